namespace LumoAuth.Contracts.Tenants;

/// <summary>A tenant registered a domain of its own; it serves nothing until verified.</summary>
public sealed record CustomDomainAdded(Guid DomainId, string Domain) : IntegrationEvent;

/// <summary>The domain's DNS proved the tenant owns it and routes it here: the gateway serves the tenant on it.</summary>
public sealed record CustomDomainVerified(Guid DomainId, string Domain) : IntegrationEvent;

/// <summary>The tenant's primary domain (where its links and notifications point) is now <see cref="Domain"/>, or none.</summary>
public sealed record PrimaryDomainChanged(Guid? DomainId, string? Domain) : IntegrationEvent;

public sealed record CustomDomainRemoved(Guid DomainId, string Domain) : IntegrationEvent;

/// <summary>
/// The domain's ownership record has been gone from DNS for longer than the deployment allows: it is no longer served
/// (nor primary), and another tenant may prove it. Verifying it again serves it again.
/// </summary>
public sealed record CustomDomainUnverified(Guid DomainId, string Domain) : IntegrationEvent;

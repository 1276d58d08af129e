namespace LumoAuth.Contracts.Federation;

/// <summary>
/// A way into the tenant changed: a social provider, an outside SAML or OpenID provider, or an LDAP directory
/// (<see cref="Type"/>) was created, updated or deleted (<see cref="Authorization.ConfigurationChanges"/>).
/// </summary>
public sealed record IdentityProviderChanged(Guid ProviderId, string Type, string Name, string Change) : IntegrationEvent;

/// <summary>A SAML app (a service provider the tenant signs users in to) was created, updated or deleted.</summary>
public sealed record SamlAppChanged(Guid AppId, string EntityId, string Change) : IntegrationEvent;

/// <summary>The tenant's SAML signing key: a next key was made or imported (<c>created</c>, <c>imported</c>) or made current (<c>activated</c>).</summary>
public sealed record SamlSigningKeyChanged(Guid KeyId, string Change) : IntegrationEvent;

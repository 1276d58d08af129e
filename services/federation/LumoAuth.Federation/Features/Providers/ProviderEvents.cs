using LumoAuth.Contracts.Federation;
using LumoAuth.Federation.Data;

namespace LumoAuth.Federation.Features.Providers;

/// <summary>The audit event of a change to any kind of identity provider (social, SAML or OpenID, LDAP), made in one place.</summary>
public static class ProviderEvents
{
    public static IdentityProviderChanged Changed(IdentityProvider provider, string change) =>
        new(provider.Id, provider.Type, provider.Name, change) { TenantId = provider.TenantId };
}

using LumoAuth.Federation;
using LumoAuth.Federation.Data;
using LumoAuth.Federation.Features.Exchange;
using LumoAuth.Federation.Features.Ldap;
using LumoAuth.Federation.Features.Login;
using LumoAuth.Federation.Features.Providers;
using LumoAuth.Federation.Features.Saml;
using LumoAuth.Messaging;

// Social and external OpenID Connect sign-in (providers, the sign-in's redirect and callback, links to users), SAML both
// ways (the tenant as identity provider for SAML apps, and as service provider for outside SAML IdPs), and sign-in with
// an LDAP directory's password (DESIGN §3).
var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddFederationService();

var app = builder.Build();
if (await app.RunMigrationsIfRequestedAsync<FederationDbContext>(args))
{
    return;
}

app.UseServiceDefaults();
app.UseAuthentication();
app.UseAuthorization();
app.UseRateLimiter();

app.MapProviderEndpoints();
app.MapSocialLoginEndpoints();
app.MapAppleNotificationEndpoints();
app.MapSamlAppEndpoints();
app.MapSamlKeyEndpoints();
app.MapSamlIdpEndpoints();
app.MapSamlIdpConnectionEndpoints();
app.MapSamlSpEndpoints();
app.MapSamlAppLogoutEndpoints();
app.MapExternalSubjectEndpoints();
app.MapLdapProviderEndpoints();
app.MapLdapSignInEndpoints();
app.MapDefaultEndpoints();

await app.RunAsync();

public partial class Program;

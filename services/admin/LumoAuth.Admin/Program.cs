using LumoAuth.Admin;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.ApiKeys;
using LumoAuth.Admin.Features.AuditLogs;
using LumoAuth.Admin.Features.Credentials;
using LumoAuth.Admin.Features.CustomDomains;
using LumoAuth.Admin.Features.Email;
using LumoAuth.Admin.Features.Gdpr;
using LumoAuth.Admin.Features.Groups;
using LumoAuth.Admin.Features.HostedPages;
using LumoAuth.Admin.Features.Internal;
using LumoAuth.Admin.Features.Invitations;
using LumoAuth.Admin.Features.Scim;
using LumoAuth.Admin.Features.Settings;
using LumoAuth.Admin.Features.Sms;
using LumoAuth.Admin.Features.Tenants;
using LumoAuth.Admin.Features.Users;
using LumoAuth.Admin.Features.Webhooks;
using LumoAuth.Messaging;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddAdminService();

var app = builder.Build();
if (await app.RunMigrationsIfRequestedAsync<AdminDbContext>(args))
{
    return;
}

app.UseServiceDefaults();
app.UseAuthentication();
app.UseAuthorization();

app.MapPlatformTenantEndpoints();
app.MapUserEndpoints();
app.MapGroupEndpoints();
app.MapSettingsEndpoints();
app.MapEmailPreviewEndpoints();
app.MapMailSentenceEndpoints();
app.MapWebhookEndpoints();
app.MapInvitationEndpoints();
app.MapGdprEndpoints();
app.MapScimEndpoints();
app.MapApiKeyEndpoints();
app.MapCustomDomainEndpoints();
app.MapAuditLogEndpoints();
app.MapCredentialEndpoints();
app.MapExternalSignInEndpoints();
app.MapSmsFactorEndpoints();
app.MapTokenRedemptionEndpoints();
app.MapMagicLinkEndpoints();
app.MapSelfServiceEndpoints();
app.MapPasskeyEndpoints();
app.MapInternalEndpoints();
app.MapHostedPageEndpoints();
// The API description is public (the same for every tenant); served under a tenant path because the
// gateway routes only documented prefixes.
app.MapOpenApi("/t/{tenantSlug}/api/v1/admin/openapi.json").AllowAnonymous();
app.MapDefaultEndpoints();

await app.RunAsync();

public partial class Program;

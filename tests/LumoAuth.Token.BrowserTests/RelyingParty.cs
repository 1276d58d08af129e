using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Token.BrowserTests;

/// <summary>
/// A small web application signing users in with ASP.NET Core's own OpenID Connect handler: code flow with
/// PKCE (pushed first or not), userinfo, RP-initiated logout. Nothing in it knows LumoAuth beyond the issuer and the client.
/// </summary>
public sealed class RelyingParty : IAsyncDisposable
{
    private readonly WebApplication _app;

    private RelyingParty(WebApplication app, string baseUrl)
    {
        _app = app;
        BaseUrl = baseUrl;
    }

    public string BaseUrl { get; }

    public static string RedirectUri(string baseUrl) => baseUrl + "/signin-oidc";

    public static string PostLogoutRedirectUri(string baseUrl) => baseUrl + "/signout-callback-oidc";

    public static async Task<RelyingParty> StartAsync(int port, string issuer, string clientId, string clientSecret, PushedAuthorizationBehavior pushed)
    {
        var baseUrl = $"http://127.0.0.1:{port}";
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(baseUrl);
        builder.Services.AddAuthentication(o =>
            {
                o.DefaultScheme = CookieAuthenticationDefaults.AuthenticationScheme;
                o.DefaultChallengeScheme = OpenIdConnectDefaults.AuthenticationScheme;
            })
            .AddCookie()
            .AddOpenIdConnect(o =>
            {
                o.Authority = issuer;
                o.RequireHttpsMetadata = false;
                o.ClientId = clientId;
                o.ClientSecret = clientSecret;
                o.ResponseType = "code";
                o.ResponseMode = "query";
                o.UsePkce = true;
                o.PushedAuthorizationBehavior = pushed;
                o.Scope.Clear();
                o.Scope.Add("openid");
                o.Scope.Add("profile");
                o.Scope.Add("email");
                o.SaveTokens = true;
                o.GetClaimsFromUserInfoEndpoint = true;
                o.MapInboundClaims = false;
                o.SignedOutRedirectUri = "/signed-out";
                // Plain http on loopback: SameSite=None cookies would need Secure, which browsers refuse here.
                o.CorrelationCookie.SameSite = SameSiteMode.Lax;
                o.NonceCookie.SameSite = SameSiteMode.Lax;
            });
        builder.Services.AddAuthorization();
        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapGet("/", (ClaimsPrincipal user) =>
                Results.Content($"<p id=\"who\">{user.FindFirst("email")?.Value}|{user.FindFirst("sub")?.Value}|{user.FindFirst("name")?.Value}</p>", "text/html"))
            .RequireAuthorization();
        app.MapGet("/logout", () => Results.SignOut(new AuthenticationProperties { RedirectUri = "/signed-out" },
            [CookieAuthenticationDefaults.AuthenticationScheme, OpenIdConnectDefaults.AuthenticationScheme]));
        app.MapGet("/signed-out", () => Results.Content("<p id=\"out\">signed out</p>", "text/html"));
        await app.StartAsync();
        return new RelyingParty(app, baseUrl);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

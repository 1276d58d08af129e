using System.Net;
using System.Net.Http.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Http;

namespace LumoAuth.Token.Features.AccountPages;

/// <summary>What admin made of a request carrying an e-mailed link's token.</summary>
public enum LinkOutcome
{
    Done,

    /// <summary>The token is unknown, expired, used, or another tenant's.</summary>
    InvalidToken,

    /// <summary>Admin refused the input (e.g. the password policy); see <see cref="LinkResult.Problems"/>.</summary>
    Invalid,

    /// <summary>An invitation's address already has an account (someone created it since the invitation was sent).</summary>
    AccountExists,

    Unavailable,
}

/// <param name="Problems">Admin's validation messages by field, on <see cref="LinkOutcome.Invalid"/>.</param>
/// <param name="UserId">On <see cref="LinkOutcome.Done"/>, the user the call was about when admin names one.</param>
public sealed record LinkResult(LinkOutcome Outcome, IReadOnlyList<(string Field, string Problem)> Problems, Guid? UserId = null)
{
    public static readonly LinkResult Done = new(LinkOutcome.Done, []);

    /// <summary>
    /// On a reset's <see cref="LinkOutcome.Done"/>: the link proved the address for the first time and admin removed what the
    /// account got before (perhaps someone else's, who registered the address first); every session must end.
    /// </summary>
    public bool UnprovenCredentialsRemoved { get; init; }
}

/// <summary>
/// Admin's internal API behind the e-mailed links and the account pages: asking for a reset or sign-in link, redeeming
/// reset, invitation, verification and sign-in tokens, and changing a signed-in user's password or names. Admin owns the tokens; this client never logs one (only call names and statuses).
/// </summary>
public sealed partial class AccountLinkClient(IHttpClientFactory httpClientFactory, ILogger<AccountLinkClient> logger)
{
    /// <summary>Admin answers the same whether the address is known or not; so does this (Done unless admin is unreachable or refuses the address).</summary>
    /// <param name="language">The page's language, for the mail of a user without a language of their own.</param>
    public Task<LinkResult> RequestPasswordResetAsync(Guid tenantId, string email, string language, CancellationToken cancellationToken) =>
        PostAsync("password reset request", EmailLinkPaths.RequestPasswordReset, new RequestPasswordResetByEmail(tenantId, email) { Language = language }, cancellationToken);

    /// <summary>Like the reset request: the same answer for unknown, verified and unverified addresses.</summary>
    public Task<LinkResult> RequestEmailVerificationAsync(Guid tenantId, string email, string language, CancellationToken cancellationToken) =>
        PostAsync("email verification request", EmailLinkPaths.RequestEmailVerification, new RequestEmailVerification(tenantId, email) { Language = language }, cancellationToken);

    public Task<LinkResult> CompletePasswordResetAsync(Guid tenantId, string token, string password, bool signOutEverywhere, CancellationToken cancellationToken) =>
        PostAsync("password reset", EmailLinkPaths.CompletePasswordReset, new CompletePasswordResetRequest(tenantId, token, password, signOutEverywhere), cancellationToken);

    /// <param name="language">The page's language, which becomes the new user's.</param>
    public Task<LinkResult> AcceptInvitationAsync(Guid tenantId, string token, string password, string? name, string language, CancellationToken cancellationToken) =>
        PostAsync("invitation", EmailLinkPaths.AcceptInvitation, new AcceptInvitationRequest(tenantId, token, password, name, language), cancellationToken);

    public Task<LinkResult> CompleteEmailVerificationAsync(Guid tenantId, string token, CancellationToken cancellationToken) =>
        PostAsync("email verification", EmailLinkPaths.CompleteEmailVerification, new CompleteEmailVerification(tenantId, token), cancellationToken);

    /// <summary>Like the reset request: Done for every address unless admin is unreachable or refuses the address.</summary>
    public Task<LinkResult> RequestMagicLinkAsync(Guid tenantId, string email, string? returnUrl, string? domain, string language, CancellationToken cancellationToken) =>
        PostAsync("sign-in link request", EmailLinkPaths.RequestMagicLink, new RequestMagicLink(tenantId, email, returnUrl) { Domain = domain, Language = language }, cancellationToken);

    /// <summary>The signed-in user's password change (account page): Invalid with the problems for a wrong current password or a refused new one.</summary>
    public Task<LinkResult> ChangePasswordAsync(Guid tenantId, Guid userId, string currentPassword, string newPassword, CancellationToken cancellationToken) =>
        PostAsync("password change", ChangePasswordRequest.Route(userId, tenantId), new ChangePasswordRequest(currentPassword, newPassword), cancellationToken);

    /// <summary>The signed-in user's own names (account page): Invalid with the problems when admin refuses them.</summary>
    /// <summary>The signed-in user accepts this version of the tenant's terms of service; refused (not Done) when it is no longer current.</summary>
    public Task<LinkResult> AcceptTermsAsync(Guid tenantId, Guid userId, string version, CancellationToken cancellationToken) =>
        PostAsync("terms acceptance", TermsAcceptance.Route(userId, tenantId), new TermsAcceptance(version), cancellationToken);

    public Task<LinkResult> UpdateProfileAsync(Guid tenantId, Guid userId, SelfProfileUpdate update, CancellationToken cancellationToken) =>
        PostAsync("profile update", SelfProfileUpdate.Route(userId, tenantId), update, cancellationToken, HttpMethod.Patch);

    /// <summary>Admin's verdict on a sign-in link (as on a password), or null when admin cannot be reached.</summary>
    public async Task<MagicLinkSignIn?> SignInWithLinkAsync(Guid tenantId, string token, string? totpCode, string? ipAddress, string? deviceId, CancellationToken cancellationToken)
    {
        const string call = "sign-in link";
        try
        {
            var client = httpClientFactory.CreateClient(InternalClients.Admin);
            using var response = await client.PostAsJsonAsync(EmailLinkPaths.CompleteMagicLink, new CompleteMagicLink(tenantId, token, totpCode, ipAddress) { DeviceId = deviceId }, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                LogAdminStatus(logger, call, (int)response.StatusCode);
                return null;
            }

            return await response.Content.ReadFromJsonAsync<MagicLinkSignIn>(cancellationToken);
        }
        catch (Exception ex) when (ex.IsRemoteFailure(cancellationToken))
        {
            LogAdminUnavailable(logger, call, ex);
            return null;
        }
    }

    private async Task<LinkResult> PostAsync<T>(string call, string route, T request, CancellationToken cancellationToken, HttpMethod? method = null)
    {
        try
        {
            var client = httpClientFactory.CreateClient(InternalClients.Admin);
            using var message = new HttpRequestMessage(method ?? HttpMethod.Post, route) { Content = JsonContent.Create(request) };
            using var response = await client.SendAsync(message, cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                return response.Content.Headers.ContentType?.MediaType == "application/json"
                    && await response.Content.ReadFromJsonAsync<DoneEnvelope>(cancellationToken) is { Data: { UserId: { } userId } data }
                    ? LinkResult.Done with { UserId = userId, UnprovenCredentialsRemoved = data.UnprovenCredentialsRemoved }
                    : LinkResult.Done;
            }

            var envelope = (response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.Conflict) && response.Content.Headers.ContentType?.MediaType == "application/json"
                ? await response.Content.ReadFromJsonAsync<ErrorEnvelope>(cancellationToken)
                : null;
            switch (envelope?.Code)
            {
                case ErrorCodes.DuplicateResource:
                    return new LinkResult(LinkOutcome.AccountExists, []);
                case ErrorCodes.InvalidToken:
                    return new LinkResult(LinkOutcome.InvalidToken, []);
                case ErrorCodes.ValidationError:
                    return new LinkResult(LinkOutcome.Invalid,
                        (envelope.Details ?? []).SelectMany(d => d.Value.Select(problem => (d.Key, problem))).ToList());
                default:
                    LogAdminStatus(logger, call, (int)response.StatusCode);
                    return new LinkResult(LinkOutcome.Unavailable, []);
            }
        }
        catch (Exception ex) when (ex.IsRemoteFailure(cancellationToken))
        {
            LogAdminUnavailable(logger, call, ex);
            return new LinkResult(LinkOutcome.Unavailable, []);
        }
    }

    private sealed record ErrorEnvelope(string? Code, Dictionary<string, string[]>? Details);

    private sealed record DoneEnvelope(DoneData? Data);

    private sealed record DoneData(Guid? UserId, bool UnprovenCredentialsRemoved = false);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Admin answered {Status} to the {Call} call")]
    private static partial void LogAdminStatus(ILogger logger, string call, int status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Admin is unreachable for the {Call} call")]
    private static partial void LogAdminUnavailable(ILogger logger, string call, Exception exception);
}

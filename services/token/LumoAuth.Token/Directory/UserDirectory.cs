using System.Net;
using System.Net.Http.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Http;
using LumoAuth.Token.Extensions;
using Microsoft.Extensions.Options;

namespace LumoAuth.Token.Directory;

/// <summary>
/// The admin service's users, over its internal API: password authentication for the hosted login and
/// profiles for ID tokens and userinfo. Admin owns users; the token service never stores credentials.
/// </summary>
public sealed partial class UserDirectory(IHttpClientFactory httpClientFactory, ILogger<UserDirectory> logger)
{
    /// <summary>Admin's verdict, or null when admin cannot be reached (the login page then says "try again").</summary>
    public Task<AuthenticateResponse?> AuthenticateAsync(AuthenticateRequest request, CancellationToken cancellationToken) =>
        PostAsync<AuthenticateResponse>("authenticate", InternalRoutes.Authenticate, request, cancellationToken);

    /// <summary>Admin's checks of a sign-in an outside provider vouched for (second step, blocks, locks, risk); null when admin cannot be reached.</summary>
    public Task<AuthenticateResponse?> FederatedSignInAsync(Guid userId, FederatedSignInRequest request, CancellationToken cancellationToken) =>
        PostAsync<AuthenticateResponse>("federated sign-in", InternalRoutes.FederatedSignIn.Replace("{userId:guid}", userId.ToString(), StringComparison.Ordinal), request, cancellationToken);

    /// <summary>WebAuthn creation options for a new passkey of the user (JSON), or null when admin refuses or cannot be reached.</summary>
    /// <param name="domain">The tenant's custom domain the ceremony runs on (its relying party), or null for the deployment's host.</param>
    public Task<string?> PasskeyRegistrationOptionsAsync(Guid tenantId, Guid userId, string? domain, CancellationToken cancellationToken) =>
        PostForJsonTextAsync("passkey registration options", PasskeyRoutes.For(PasskeyRoutes.RegistrationOptions, userId, tenantId, domain), new { }, cancellationToken);

    /// <summary>WebAuthn request options for a passkey sign-in (JSON), or null when admin cannot be reached.</summary>
    public Task<string?> PasskeyAssertionOptionsAsync(Guid tenantId, string? domain, CancellationToken cancellationToken) =>
        PostForJsonTextAsync("passkey sign-in options", PasskeyRoutes.AssertionOptions, new PasskeyAssertionOptionsRequest(tenantId) { Domain = domain }, cancellationToken);

    /// <summary>Registers the browser's new passkey: the passkey, or null with admin's reason (null reason: admin unreachable).</summary>
    public async Task<(PasskeyInfo? Passkey, string? Problem)> RegisterPasskeyAsync(Guid tenantId, Guid userId, RegisterPasskey request, CancellationToken cancellationToken)
    {
        try
        {
            var client = httpClientFactory.CreateClient(InternalClients.Admin);
            using var response = await client.PostAsJsonAsync(PasskeyRoutes.For(PasskeyRoutes.Register, userId, tenantId), request, cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                return ((await response.Content.ReadFromJsonAsync<DataEnvelope<PasskeyInfo>>(cancellationToken))?.Data, null);
            }

            LogAdminStatus(logger, "passkey registration", (int)response.StatusCode);
            if ((int)response.StatusCode >= 500)
            {
                return (null, null);
            }

            // Admin's refusals of a passkey (invalid_passkey) are written for its user; anything else is not shown.
            var refusal = response.Content.Headers.ContentType?.MediaType == "application/json"
                ? await response.Content.ReadFromJsonAsync<ErrorEnvelope>(cancellationToken)
                : null;
            return (null, refusal is { Code: "invalid_passkey", Message: { Length: > 0 } message } ? message : "The passkey could not be registered.");
        }
        catch (Exception ex) when (ex.IsRemoteFailure(cancellationToken))
        {
            LogAdminUnavailable(logger, "passkey registration", ex);
            return (null, null);
        }
    }

    /// <summary>Admin's verdict on a passkey sign-in, or null when admin cannot be reached.</summary>
    public Task<AuthenticateResponse?> AuthenticateWithPasskeyAsync(AuthenticateWithPasskey request, CancellationToken cancellationToken) =>
        PostAsync<AuthenticateResponse>("passkey sign-in", PasskeyRoutes.Authenticate, request, cancellationToken);

    /// <summary>The user's two-step verification factors, or null when admin cannot say.</summary>
    public async Task<IReadOnlyList<MfaFactorInfo>?> MfaFactorsAsync(Guid tenantId, Guid userId, CancellationToken cancellationToken) =>
        (await SendAsync<List<MfaFactorInfo>>("mfa factors", HttpMethod.Get, MfaRoutes.Factors(userId, tenantId), null, cancellationToken)).Data;

    /// <summary>A new TOTP secret for the user (replacing an unconfirmed one), or null when admin refuses (already enrolled) or cannot be reached.</summary>
    public async Task<TotpEnrolmentOffer?> BeginTotpAsync(Guid tenantId, Guid userId, CancellationToken cancellationToken) =>
        (await SendAsync<TotpEnrolmentOffer>("totp enrolment", HttpMethod.Post, MfaRoutes.BeginTotp(userId, tenantId), new { }, cancellationToken)).Data;

    /// <summary>Confirms the pending TOTP factor with a code: its first backup codes; (null, 400) for a wrong code, (null, null) when admin cannot say.</summary>
    public async Task<(IReadOnlyList<string>? BackupCodes, int? Status)> ConfirmTotpAsync(Guid tenantId, Guid userId, string code, CancellationToken cancellationToken)
    {
        var (data, status) = await SendAsync<BackupCodeSet>("totp confirmation", HttpMethod.Post, MfaRoutes.ConfirmTotp(userId, tenantId), new { code }, cancellationToken);
        return (data?.BackupCodes, status);
    }

    /// <summary>A new set of backup codes (the old set stops working), or null.</summary>
    public async Task<IReadOnlyList<string>?> RegenerateBackupCodesAsync(Guid tenantId, Guid userId, CancellationToken cancellationToken) =>
        (await SendAsync<BackupCodeSet>("backup codes", HttpMethod.Post, MfaRoutes.BackupCodes(userId, tenantId), new { }, cancellationToken)).Data?.BackupCodes;

    /// <summary>
    /// Turns sign-in codes by e-mail on: the first backup codes when they are the user's first factor (else an empty list);
    /// (null, 400) when they are not available to the user, (null, null) when admin cannot say.
    /// </summary>
    public async Task<(IReadOnlyList<string>? BackupCodes, int? Status)> TurnOnEmailCodesAsync(Guid tenantId, Guid userId, CancellationToken cancellationToken)
    {
        var (data, status) = await SendAsync<EmailCodesTurnedOn>("email codes", HttpMethod.Post, MfaRoutes.EmailCodes(userId, tenantId), new { }, cancellationToken);
        return (data is null ? null : data.BackupCodes ?? [], status);
    }

    /// <summary>Turns sign-in codes by e-mail off; false when admin refuses or cannot be reached.</summary>
    public async Task<bool> TurnOffEmailCodesAsync(Guid tenantId, Guid userId, CancellationToken cancellationToken) =>
        (await SendAsync<object>("email codes", HttpMethod.Delete, MfaRoutes.EmailCodes(userId, tenantId), null, cancellationToken)).Status == StatusCodes.Status204NoContent;

    private sealed record EmailCodesTurnedOn(IReadOnlyList<string>? BackupCodes);

    /// <summary>Texts a first code to <paramref name="phoneNumber"/> (pending until confirmed): where it went (<c>•••4567</c>), or (null, status) when admin refuses (400 number or method, 409 a phone is set up), (null, null) when it cannot be reached.</summary>
    public async Task<(string? PhoneHint, int? Status)> BeginSmsAsync(Guid tenantId, Guid userId, string phoneNumber, CancellationToken cancellationToken)
    {
        var (data, status) = await SendAsync<SmsEnrolmentStarted>("sms enrolment", HttpMethod.Post, MfaRoutes.SmsCodes(userId, tenantId), new BeginSmsRequest(phoneNumber), cancellationToken);
        return (data?.PhoneHint, status);
    }

    /// <summary>Confirms the pending phone with the texted code: the first backup codes when it is the first factor (else empty); (null, 400) for a wrong code.</summary>
    public async Task<(IReadOnlyList<string>? BackupCodes, int? Status)> ConfirmSmsAsync(Guid tenantId, Guid userId, string code, CancellationToken cancellationToken)
    {
        var (data, status) = await SendAsync<BackupCodeSet>("sms confirmation", HttpMethod.Post, MfaRoutes.ConfirmSms(userId, tenantId), new ConfirmSmsRequest(code), cancellationToken);
        return (data?.BackupCodes, status);
    }

    /// <summary>Removes the user's phone for codes; false when admin refuses or cannot be reached.</summary>
    public async Task<bool> RemoveSmsAsync(Guid tenantId, Guid userId, CancellationToken cancellationToken) =>
        (await SendAsync<object>("sms removal", HttpMethod.Delete, MfaRoutes.SmsCodes(userId, tenantId), null, cancellationToken)).Status == StatusCodes.Status204NoContent;

    /// <summary>Admin's <c>data</c> and status for a call of the REST envelope; (null, null) when admin cannot be reached.</summary>
    private async Task<(T? Data, int? Status)> SendAsync<T>(string call, HttpMethod method, string route, object? body, CancellationToken cancellationToken)
        where T : class
    {
        try
        {
            var client = httpClientFactory.CreateClient(InternalClients.Admin);
            using var request = new HttpRequestMessage(method, route) { Content = body is null ? null : JsonContent.Create(body) };
            using var response = await client.SendAsync(request, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                LogAdminStatus(logger, call, (int)response.StatusCode);
                return (null, (int)response.StatusCode);
            }

            return response.StatusCode == System.Net.HttpStatusCode.NoContent
                ? (null, (int)response.StatusCode)
                : ((await response.Content.ReadFromJsonAsync<DataEnvelope<T>>(cancellationToken))?.Data, (int)response.StatusCode);
        }
        catch (Exception ex) when (ex.IsRemoteFailure(cancellationToken))
        {
            LogAdminUnavailable(logger, call, ex);
            return (null, null);
        }
    }

    /// <summary>Admin's JSON answer to a POST, or null when admin refuses or cannot be reached (both logged, never the body).</summary>
    private async Task<T?> PostAsync<T>(string call, string route, object request, CancellationToken cancellationToken)
        where T : class
    {
        try
        {
            var client = httpClientFactory.CreateClient(InternalClients.Admin);
            using var response = await client.PostAsJsonAsync(route, request, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                LogAdminStatus(logger, call, (int)response.StatusCode);
                return null;
            }

            return await response.Content.ReadFromJsonAsync<T>(cancellationToken);
        }
        catch (Exception ex) when (ex.IsRemoteFailure(cancellationToken))
        {
            LogAdminUnavailable(logger, call, ex);
            return null;
        }
    }

    private async Task<string?> PostForJsonTextAsync(string call, string route, object body, CancellationToken cancellationToken)
    {
        try
        {
            var client = httpClientFactory.CreateClient(InternalClients.Admin);
            using var response = await client.PostAsJsonAsync(route, body, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                LogAdminStatus(logger, call, (int)response.StatusCode);
                return null;
            }

            return await response.Content.ReadAsStringAsync(cancellationToken);
        }
        catch (Exception ex) when (ex.IsRemoteFailure(cancellationToken))
        {
            LogAdminUnavailable(logger, call, ex);
            return null;
        }
    }

    private sealed record DataEnvelope<T>(T? Data);

    /// <summary>The user's profile; null when the user does not exist (or admin cannot say).</summary>
    public async Task<UserProfile?> GetProfileAsync(Guid tenantId, Guid userId, CancellationToken cancellationToken) =>
        (await LookUpAsync(tenantId, userId, cancellationToken)).Profile;

    /// <summary>The user's profile, read from admin at the first ask only: the steps of one request share one read.</summary>
    public ProfileRead ReadOnce(Guid tenantId, Guid userId, CancellationToken cancellationToken) => new(this, tenantId, userId, cancellationToken);

    /// <summary>One request's read of a user's profile (<see cref="ReadOnce"/>); null as <see cref="GetProfileAsync"/>.</summary>
    public sealed class ProfileRead(UserDirectory users, Guid tenantId, Guid userId, CancellationToken cancellationToken)
    {
        private Task<UserProfile?>? read;

        public Guid TenantId => tenantId;

        public Guid UserId => userId;

        public Task<UserProfile?> GetAsync() => read ??= users.GetProfileAsync(tenantId, userId, cancellationToken);
    }

    /// <summary>The user: (false, null) when the tenant has no such user, (null, null) when admin cannot say.</summary>
    public Task<(bool? Found, UserProfile? Profile)> FindAsync(Guid tenantId, Guid userId, CancellationToken cancellationToken) =>
        LookUpAsync(tenantId, userId, cancellationToken);

    /// <summary>The user an email address or username names: (false, null) for nobody, (null, null) when admin cannot say.</summary>
    public Task<(bool? Found, UserProfile? Profile)> FindByLoginAsync(Guid tenantId, string login, CancellationToken cancellationToken) =>
        LookUpAsync(tenantId, $"{InternalRoutes.UserByLogin}?tenantId={tenantId}&login={Uri.EscapeDataString(login)}", cancellationToken);

    /// <summary>Whether the tenant has this user: null when admin cannot say.</summary>
    public async Task<bool?> ExistsAsync(Guid tenantId, Guid userId, CancellationToken cancellationToken) =>
        (await LookUpAsync(tenantId, userId, cancellationToken)).Found;

    private Task<(bool? Found, UserProfile? Profile)> LookUpAsync(Guid tenantId, Guid userId, CancellationToken cancellationToken) =>
        LookUpAsync(tenantId, $"{InternalRoutes.Prefix}/users/{userId}?tenantId={tenantId}", cancellationToken);

    private async Task<(bool? Found, UserProfile? Profile)> LookUpAsync(Guid tenantId, string path, CancellationToken cancellationToken)
    {
        try
        {
            var client = httpClientFactory.CreateClient(InternalClients.Admin);
            using var response = await client.GetAsync(path, cancellationToken);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return (false, null);
            }

            if (!response.IsSuccessStatusCode)
            {
                LogAdminStatus(logger, "user profile", (int)response.StatusCode);
                return (null, null);
            }

            var profile = await response.Content.ReadFromJsonAsync<UserProfile>(cancellationToken);
            // Defence in depth: a profile of another tenant is never used.
            return profile?.TenantId == tenantId ? (true, profile) : (false, null);
        }
        catch (Exception ex) when (ex.IsRemoteFailure(cancellationToken))
        {
            LogAdminUnavailable(logger, "user profile", ex);
            return (null, null);
        }
    }

    /// <summary>Self-registration (<c>prompt=create</c>); admin applies the registration switch, password policy and uniqueness.</summary>
    public async Task<RegistrationResult> RegisterAsync(RegisterUserRequest request, CancellationToken cancellationToken)
    {
        try
        {
            var client = httpClientFactory.CreateClient(InternalClients.Admin);
            using var response = await client.PostAsJsonAsync(InternalRoutes.RegisterUser, request, cancellationToken);
            if (response.StatusCode == HttpStatusCode.Created)
            {
                return new RegistrationResult(RegistrationOutcome.Created, await response.Content.ReadFromJsonAsync<RegisteredUser>(cancellationToken), []);
            }

            var envelope = response.Content.Headers.ContentType?.MediaType == "application/json"
                ? await response.Content.ReadFromJsonAsync<ErrorEnvelope>(cancellationToken)
                : null;
            switch (response.StatusCode, envelope?.Code)
            {
                case (HttpStatusCode.Forbidden, HostedPageErrorCodes.RegistrationDisabled):
                    return new RegistrationResult(RegistrationOutcome.Disabled, null, []);
                case (HttpStatusCode.Conflict, _):
                    return new RegistrationResult(RegistrationOutcome.Duplicate, null, []);
                case (HttpStatusCode.BadRequest, _) when envelope?.Details is { Count: > 0 } details:
                    return new RegistrationResult(RegistrationOutcome.Invalid, null,
                        details.SelectMany(d => d.Value.Select(problem => new FieldProblem(d.Key, problem))).ToList());
                default:
                    LogAdminStatus(logger, "register", (int)response.StatusCode);
                    return new RegistrationResult(RegistrationOutcome.Unavailable, null, []);
            }
        }
        catch (Exception ex) when (ex.IsRemoteFailure(cancellationToken))
        {
            LogAdminUnavailable(logger, "register", ex);
            return new RegistrationResult(RegistrationOutcome.Unavailable, null, []);
        }
    }

    private sealed record ErrorEnvelope(string? Code, Dictionary<string, string[]>? Details, string? Message = null);

    /// <summary>A 401 or 403 means admin refuses our internal key: a configuration fault that no retry cures, so it is an error.</summary>
    private static void LogAdminStatus(ILogger logger, string call, int status)
    {
        if (status is StatusCodes.Status401Unauthorized or StatusCodes.Status403Forbidden)
        {
            LogInternalKeyRefused(logger, status, call);
        }
        else
        {
            LogAdminAnswered(logger, call, status);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Admin answered {Status} to the {Call} call")]
    private static partial void LogAdminAnswered(ILogger logger, string call, int status);

    [LoggerMessage(Level = LogLevel.Error, Message = "Admin refused the internal key ({Status}) on the {Call} call: check LumoAuth:InternalKey on both services")]
    private static partial void LogInternalKeyRefused(ILogger logger, int status, string call);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Admin is unreachable for the {Call} call")]
    private static partial void LogAdminUnavailable(ILogger logger, string call, Exception exception);
}

public enum RegistrationOutcome
{
    Created,
    Disabled,
    Duplicate,
    Invalid,
    Unavailable,
}

public sealed record FieldProblem(string Field, string Problem);

/// <summary><see cref="User"/> on <see cref="RegistrationOutcome.Created"/>; <see cref="Problems"/> on <see cref="RegistrationOutcome.Invalid"/>.</summary>
public sealed record RegistrationResult(RegistrationOutcome Outcome, RegisteredUser? User, IReadOnlyList<FieldProblem> Problems);

/// <summary>
/// Roles and permissions from the authorization service's <c>roles-of</c>. Tokens are still issued when it
/// is unavailable: the claims are left out (and the gap logged), never guessed.
/// </summary>
public sealed partial class RolesDirectory(IHttpClientFactory httpClientFactory, IOptions<TokenServiceOptions> options, ILogger<RolesDirectory> logger)
{
    private readonly TimeSpan _timeout = options.Value.RolesLookupTimeout;

    public async Task<RolesOfResponse?> RolesOfAsync(Guid tenantId, string subject, CancellationToken cancellationToken)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_timeout);
            var client = httpClientFactory.CreateClient(InternalClients.Authorization);
            using var request = RepeatableRequests.PostJson(InternalRoutes.RolesOf, new RolesOfRequest(tenantId, subject));
            using var response = await client.SendAsync(request, timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                LogRolesUnavailable(logger, (int)response.StatusCode, null);
                return null;
            }

            return await response.Content.ReadFromJsonAsync<RolesOfResponse>(timeout.Token);
        }
        catch (Exception ex) when (ex.IsRemoteFailure(cancellationToken))
        {
            LogRolesUnavailable(logger, null, ex);
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "roles-of unavailable (status {Status}); roles and permissions claims are omitted")]
    private static partial void LogRolesUnavailable(ILogger logger, int? status, Exception? exception);
}

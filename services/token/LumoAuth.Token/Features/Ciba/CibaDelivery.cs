namespace LumoAuth.Token.Features.Ciba;

/// <summary>The names of OpenID CIBA Core 1.0 that clients, discovery and the endpoints share.</summary>
public static class CibaDelivery
{
    public const string GrantType = "urn:openid:params:grant-type:ciba";

    /// <summary>The client polls the token endpoint until the user has decided.</summary>
    public const string Poll = "poll";

    /// <summary>The client is called back at its notification endpoint once the user has decided, then redeems.</summary>
    public const string Ping = "ping";

    /// <summary>
    /// Tokens pushed to the client's endpoint. Not offered: FAPI-CIBA forbids it, and it would hand out tokens with no
    /// client authentication at delivery.
    /// </summary>
    public const string Push = "push";

    public static readonly string[] Supported = [Poll, Ping];

    /// <summary>The client-registration properties (CIBA Core §4 metadata names).</summary>
    public const string ModeProperty = "backchannel_token_delivery_mode";

    public const string NotificationEndpointProperty = "backchannel_client_notification_endpoint";

    /// <summary>Relative to the tenant's API base, like every protocol endpoint.</summary>
    public const string EndpointPath = "oauth/bc-authorize";

    public static class Statuses
    {
        public const string Pending = "pending";
        public const string Approved = "approved";
        public const string Denied = "denied";
        public const string Redeemed = "redeemed";
    }

    public static class Errors
    {
        public const string UnknownUserId = "unknown_user_id";
        public const string InvalidBindingMessage = "invalid_binding_message";
        public const string InvalidUserCode = "invalid_user_code";
        public const string ExpiredLoginHintToken = "expired_login_hint_token";
    }
}

using System.Buffers.Binary;
using System.Buffers.Text;
using System.Formats.Cbor;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LumoAuth.Testing;

/// <summary>
/// A WebAuthn authenticator in software (ES256, attestation "none" or "packed" self-attestation, user present and verified),
/// to answer the options the hosted pages hand out as a browser with a passkey would: <c>navigator.credentials.create()</c>
/// and <c>.get()</c>'s JSON.
/// </summary>
public sealed class SoftwarePasskey : IDisposable
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public byte[] CredentialId { get; } = RandomNumberGenerator.GetBytes(16);

    public byte[] UserHandle { get; private set; } = [];

    /// <summary>The signature counter the next assertion carries (a real authenticator raises it each time).</summary>
    public uint Counter { get; set; } = 1;

    /// <summary>The attestation statement registration answers with: <c>none</c>, or <c>packed</c> signed by the credential's own key.</summary>
    public string AttestationFormat { get; init; } = "none";

    /// <summary>The model id registration reports (zeros: none).</summary>
    public Guid Aaguid { get; init; }

    /// <summary>What the browser reports the authenticator to be (<c>platform</c>, <c>cross-platform</c>), or nothing.</summary>
    public string? Attachment { get; init; }

    public JsonObject Create(JsonElement options, string origin)
    {
        UserHandle = Base64Url.DecodeFromChars(options.GetProperty("user").GetProperty("id").GetString());
        var clientData = ClientData("webauthn.create", options.GetProperty("challenge").GetString()!, origin);
        var key = _key.ExportParameters(false);
        var cose = new CborWriter();
        cose.WriteStartMap(5);
        cose.WriteInt32(1); cose.WriteInt32(2);    // kty: EC2
        cose.WriteInt32(3); cose.WriteInt32(-7);   // alg: ES256
        cose.WriteInt32(-1); cose.WriteInt32(1);   // crv: P-256
        cose.WriteInt32(-2); cose.WriteByteString(key.Q.X!);
        cose.WriteInt32(-3); cose.WriteByteString(key.Q.Y!);
        cose.WriteEndMap();

        var attested = new List<byte>();
        attested.AddRange(Aaguid.ToByteArray(bigEndian: true));
        attested.AddRange(BigEndian((ushort)CredentialId.Length));
        attested.AddRange(CredentialId);
        attested.AddRange(cose.Encode());
        var authData = AuthenticatorData(options.GetProperty("rp").GetProperty("id").GetString()!, flags: 0x45, counter: 0, [.. attested]);

        var attestation = new CborWriter();
        attestation.WriteStartMap(3);
        attestation.WriteTextString("fmt"); attestation.WriteTextString(AttestationFormat);
        attestation.WriteTextString("attStmt");
        if (AttestationFormat == "packed")
        {
            // Self-attestation: the new credential's key signs what the authenticator made.
            attestation.WriteStartMap(2);
            attestation.WriteTextString("alg"); attestation.WriteInt32(-7);
            attestation.WriteTextString("sig");
            attestation.WriteByteString(_key.SignData([.. authData, .. SHA256.HashData(clientData)], HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));
            attestation.WriteEndMap();
        }
        else
        {
            attestation.WriteStartMap(0); attestation.WriteEndMap();
        }

        attestation.WriteTextString("authData"); attestation.WriteByteString(authData);
        attestation.WriteEndMap();

        var credential = Credential(new JsonObject
        {
            ["attestationObject"] = Encode(attestation.Encode()),
            ["clientDataJSON"] = Encode(clientData),
            ["transports"] = new JsonArray("internal"),
        });
        if (Attachment is not null)
        {
            credential["authenticatorAttachment"] = Attachment;
        }

        return credential;
    }

    public JsonObject Get(JsonElement options, string origin)
    {
        var clientData = ClientData("webauthn.get", options.GetProperty("challenge").GetString()!, origin);
        var authData = AuthenticatorData(options.GetProperty("rpId").GetString()!, flags: 0x05, counter: Counter, []);
        var signature = _key.SignData([.. authData, .. SHA256.HashData(clientData)], HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        return Credential(new JsonObject
        {
            ["authenticatorData"] = Encode(authData),
            ["clientDataJSON"] = Encode(clientData),
            ["signature"] = Encode(signature),
            ["userHandle"] = Encode(UserHandle),
        });
    }

    public void Dispose() => _key.Dispose();

    private JsonObject Credential(JsonObject response) => new()
    {
        ["id"] = Encode(CredentialId),
        ["rawId"] = Encode(CredentialId),
        ["type"] = "public-key",
        ["response"] = response,
        ["clientExtensionResults"] = new JsonObject(),
    };

    private static byte[] ClientData(string type, string challenge, string origin) =>
        Encoding.UTF8.GetBytes(new JsonObject { ["type"] = type, ["challenge"] = challenge, ["origin"] = origin, ["crossOrigin"] = false }.ToJsonString());

    private static byte[] AuthenticatorData(string rpId, byte flags, uint counter, byte[] attested)
    {
        var counterBytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(counterBytes, counter);
        return [.. SHA256.HashData(Encoding.UTF8.GetBytes(rpId)), flags, .. counterBytes, .. attested];
    }

    private static byte[] BigEndian(ushort value)
    {
        var bytes = new byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(bytes, value);
        return bytes;
    }

    private static string Encode(byte[] bytes) => Base64Url.EncodeToString(bytes);
}

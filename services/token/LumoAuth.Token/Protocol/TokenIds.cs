using System.Security.Cryptography;

namespace LumoAuth.Token.Protocol;

/// <summary>Random (version 4) ids for the tokens issued at high rates, such as an access token's <c>jti</c>.</summary>
/// <remarks>
/// <see cref="Guid.NewGuid"/> reads the kernel's random device once per id on our Linux images, and
/// <see cref="RandomNumberGenerator"/> asks the kernel for the process id on every call (OpenSSL's fork check): a system
/// call per token either way (bench/README.md, step 15). Each thread therefore draws 4 KB from the CSPRNG at once and hands
/// out 16 bytes per id, wiping them as they go, so 256 ids cost one call.
/// </remarks>
public static class TokenIds
{
    private const int IdBytes = 16;
    private const int PoolBytes = 256 * IdBytes;

    [ThreadStatic]
    private static byte[]? pool;

    [ThreadStatic]
    private static int next;

    public static string New()
    {
        if (pool is null || next == PoolBytes)
        {
            pool ??= new byte[PoolBytes];
            RandomNumberGenerator.Fill(pool);
            next = 0;
        }

        Span<byte> bytes = stackalloc byte[IdBytes];
        var drawn = pool.AsSpan(next, IdBytes);
        drawn.CopyTo(bytes);
        drawn.Clear();
        next += IdBytes;
        bytes[6] = (byte)(0x40 | (bytes[6] & 0x0F)); // version 4 (RFC 9562 §5.4)
        bytes[8] = (byte)(0x80 | (bytes[8] & 0x3F)); // the RFC's variant
        return new Guid(bytes, bigEndian: true).ToString();
    }
}

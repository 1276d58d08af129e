using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;

namespace LumoAuth.Admin.Security;

/// <summary>
/// scrypt (RFC 7914), which .NET does not provide: only to verify hashes imported from systems that used it (Firebase, and
/// applications on Node's or Python's scrypt). Our own hashes stay PBKDF2. Checked against the RFC's test vectors.
/// </summary>
public static class Scrypt
{
    /// <param name="cost">N, a power of two.</param>
    /// <param name="blockSize">r: each block is 128·r bytes, and the work area N of them.</param>
    /// <param name="parallelism">p: independent mixes, made one after another here.</param>
    public static byte[] DeriveKey(ReadOnlySpan<byte> password, ReadOnlySpan<byte> salt, int cost, int blockSize, int parallelism, int length)
    {
        if (cost < 2 || !BitOperations.IsPow2(cost) || blockSize < 1 || parallelism < 1 || (long)cost * blockSize > int.MaxValue / 32)
        {
            throw new ArgumentOutOfRangeException(nameof(cost), "scrypt needs N a power of two above 1, and r and p of at least 1");
        }

        var blockBytes = 128 * blockSize;
        var mixed = Rfc2898DeriveBytes.Pbkdf2(password, salt, 1, HashAlgorithmName.SHA256, parallelism * blockBytes);
        var words = 32 * blockSize;
        // Not pooled: the work area is megabytes, and a pool would keep it after a rare sign-in with an imported hash.
        var scratch = new uint[words * (cost + 2)];
        for (var i = 0; i < parallelism; i++)
        {
            Mix(mixed.AsSpan(i * blockBytes, blockBytes), scratch, cost, blockSize);
        }

        return Rfc2898DeriveBytes.Pbkdf2(password, mixed, 1, HashAlgorithmName.SHA256, length);
    }

    /// <summary>ROMix: fill N blocks by mixing, then mix N times more with the block the current state points at.</summary>
    private static void Mix(Span<byte> block, Span<uint> scratch, int cost, int blockSize)
    {
        var words = 32 * blockSize;
        var x = scratch[..words];
        var y = scratch.Slice(words, words);
        var v = scratch[(2 * words)..];
        for (var k = 0; k < words; k++)
        {
            x[k] = BinaryPrimitives.ReadUInt32LittleEndian(block[(4 * k)..]);
        }

        for (var i = 0; i < cost; i++)
        {
            x.CopyTo(v.Slice(i * words, words));
            BlockMix(x, y, blockSize);
        }

        for (var i = 0; i < cost; i++)
        {
            // Integerify: the first word of the last 64-byte part, modulo N (a power of two).
            var j = (int)(x[(2 * blockSize - 1) * 16] & (uint)(cost - 1));
            var chosen = v.Slice(j * words, words);
            for (var k = 0; k < words; k++)
            {
                x[k] ^= chosen[k];
            }

            BlockMix(x, y, blockSize);
        }

        for (var k = 0; k < words; k++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(block[(4 * k)..], x[k]);
        }
    }

    /// <summary>BlockMix with Salsa20/8: the even-numbered outputs first, then the odd ones. <paramref name="y"/> is scratch.</summary>
    private static void BlockMix(Span<uint> b, Span<uint> y, int blockSize)
    {
        Span<uint> state = stackalloc uint[16];
        b.Slice((2 * blockSize - 1) * 16, 16).CopyTo(state);
        for (var i = 0; i < 2 * blockSize; i++)
        {
            var part = b.Slice(i * 16, 16);
            for (var k = 0; k < 16; k++)
            {
                state[k] ^= part[k];
            }

            Salsa(state, 8);
            state.CopyTo(y.Slice((i % 2 == 0 ? i / 2 : blockSize + i / 2) * 16, 16));
        }

        y[..(32 * blockSize)].CopyTo(b);
    }

    /// <summary>The Salsa20 core with <paramref name="rounds"/> rounds (8 for scrypt, 2 in yescrypt's mix), its input added to its output.</summary>
    internal static void Salsa(Span<uint> b, int rounds)
    {
        uint x0 = b[0], x1 = b[1], x2 = b[2], x3 = b[3], x4 = b[4], x5 = b[5], x6 = b[6], x7 = b[7];
        uint x8 = b[8], x9 = b[9], x10 = b[10], x11 = b[11], x12 = b[12], x13 = b[13], x14 = b[14], x15 = b[15];
        for (var round = 0; round < rounds; round += 2)
        {
            // Columns.
            x4 ^= BitOperations.RotateLeft(x0 + x12, 7); x8 ^= BitOperations.RotateLeft(x4 + x0, 9);
            x12 ^= BitOperations.RotateLeft(x8 + x4, 13); x0 ^= BitOperations.RotateLeft(x12 + x8, 18);
            x9 ^= BitOperations.RotateLeft(x5 + x1, 7); x13 ^= BitOperations.RotateLeft(x9 + x5, 9);
            x1 ^= BitOperations.RotateLeft(x13 + x9, 13); x5 ^= BitOperations.RotateLeft(x1 + x13, 18);
            x14 ^= BitOperations.RotateLeft(x10 + x6, 7); x2 ^= BitOperations.RotateLeft(x14 + x10, 9);
            x6 ^= BitOperations.RotateLeft(x2 + x14, 13); x10 ^= BitOperations.RotateLeft(x6 + x2, 18);
            x3 ^= BitOperations.RotateLeft(x15 + x11, 7); x7 ^= BitOperations.RotateLeft(x3 + x15, 9);
            x11 ^= BitOperations.RotateLeft(x7 + x3, 13); x15 ^= BitOperations.RotateLeft(x11 + x7, 18);

            // Rows.
            x1 ^= BitOperations.RotateLeft(x0 + x3, 7); x2 ^= BitOperations.RotateLeft(x1 + x0, 9);
            x3 ^= BitOperations.RotateLeft(x2 + x1, 13); x0 ^= BitOperations.RotateLeft(x3 + x2, 18);
            x6 ^= BitOperations.RotateLeft(x5 + x4, 7); x7 ^= BitOperations.RotateLeft(x6 + x5, 9);
            x4 ^= BitOperations.RotateLeft(x7 + x6, 13); x5 ^= BitOperations.RotateLeft(x4 + x7, 18);
            x11 ^= BitOperations.RotateLeft(x10 + x9, 7); x8 ^= BitOperations.RotateLeft(x11 + x10, 9);
            x9 ^= BitOperations.RotateLeft(x8 + x11, 13); x10 ^= BitOperations.RotateLeft(x9 + x8, 18);
            x12 ^= BitOperations.RotateLeft(x15 + x14, 7); x13 ^= BitOperations.RotateLeft(x12 + x15, 9);
            x14 ^= BitOperations.RotateLeft(x13 + x12, 13); x15 ^= BitOperations.RotateLeft(x14 + x13, 18);
        }

        b[0] += x0; b[1] += x1; b[2] += x2; b[3] += x3; b[4] += x4; b[5] += x5; b[6] += x6; b[7] += x7;
        b[8] += x8; b[9] += x9; b[10] += x10; b[11] += x11; b[12] += x12; b[13] += x13; b[14] += x14; b[15] += x15;
    }
}

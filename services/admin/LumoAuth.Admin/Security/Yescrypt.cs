using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;

namespace LumoAuth.Admin.Security;

/// <summary>
/// yescrypt, the crypt(3) default of Debian 11+, Ubuntu 22.04+, Fedora 35+ and Arch (<c>$y$…</c> in /etc/shadow), and the
/// scrypt form libxcrypt writes as <c>$7$…</c>: only to verify hashes imported from such systems, as <see cref="Scrypt"/>.
/// Written from yescrypt's reference description (Openwall) and checked against libxcrypt's output. Only what libxcrypt
/// can write is taken: no ROM, no hash upgrades, and of the read-write flavours only its one (pwxform with 6 rounds, 4
/// gathers of 2 lanes and 12 KiB of S-boxes).
/// </summary>
public static class Yescrypt
{
    /// <summary>The mode bits: neither is classic scrypt; write-once is scrypt with a time factor; read-write is yescrypt proper.</summary>
    private const uint WriteOnce = 1, ReadWrite = 2;

    /// <summary>libxcrypt's read-write flavour: 6 rounds, 4 gathers, 2 lanes, 12 KiB S-boxes.</summary>
    private const uint DefaultFlavour = ReadWrite | 0x004 | 0x010 | 0x020 | 0x080;

    /// <summary>Marks the cheaper first pass that stands in front of a large read-write hash.</summary>
    private const uint PreHash = 0x10000000;

    private const int Gathers = 4, Lanes = 2, PwxRounds = 6;
    private const int PwxWords = Gathers * Lanes * 2;

    /// <summary>Each S-box holds 2^8 · <see cref="Lanes"/> pairs of words; there are three.</summary>
    private const int SBoxWords = (1 << 8) * Lanes * 2;

    private const uint SBoxMask = ((1 << 8) - 1) * Lanes * 8;

    /// <summary>What a hash string asks for.</summary>
    /// <param name="Prefix">Everything up to and including the salt, which the hash is appended to.</param>
    public sealed record Setting(string Prefix, uint Flags, int LogN, int BlockSize, int Parallelism, int Time, byte[] Salt)
    {
        public long Cost => 1L << LogN;

        /// <summary>The work area in bytes: 128·N·r.</summary>
        public long Memory => 128L * Cost * BlockSize;
    }

    /// <summary>The setting of a <c>$y$</c> or <c>$7$</c> string, or null when it is not one this code computes.</summary>
    public static Setting? Read(string value)
    {
        var yescrypt = value.StartsWith("$y$", StringComparison.Ordinal);
        if (!yescrypt && !value.StartsWith("$7$", StringComparison.Ordinal))
        {
            return null;
        }

        var last = value.LastIndexOf('$');
        if (last < 4 || value.Length - last - 1 != 43 || Decode(value.AsSpan(last + 1)) is not { Length: 32 })
        {
            return null;
        }

        return yescrypt ? ReadYescrypt(value, last) : ReadScrypt(value, last);
    }

    private static Setting? ReadYescrypt(string value, int last)
    {
        var at = 3;
        if (Number(value, ref at, 0) is not { } flavour || Number(value, ref at, 1) is not { } logN || Number(value, ref at, 1) is not { } blockSize)
        {
            return null;
        }

        // Flavours 0 and 1 are the modes themselves; above them, the read-write flags shifted down past the mode bits.
        var flags = flavour < ReadWrite ? (uint)flavour : flavour <= ReadWrite + (0x3fc >> 2) ? ReadWrite + ((uint)(flavour - ReadWrite) << 2) : uint.MaxValue;
        ulong parallelism = 1, time = 0;
        if (at < value.Length && value[at] != '$')
        {
            // Which optional parameters follow: 1 p, 2 t; 4 (upgrades) and 8 (a ROM) are never written by libxcrypt.
            if (Number(value, ref at, 1) is not { } have || (have & ~3UL) != 0)
            {
                return null;
            }

            if ((have & 1) != 0 && (parallelism = Number(value, ref at, 2) ?? 0) == 0)
            {
                return null;
            }

            if ((have & 2) != 0 && (time = Number(value, ref at, 1) ?? 0) == 0)
            {
                return null;
            }
        }

        if (at >= last || value[at] != '$' || (flags != 0 && flags != WriteOnce && flags != DefaultFlavour) || (flags == 0 && time != 0)
            || logN is < 1 or > 40 || blockSize is < 1 or > 1024 || parallelism > 1024 || time > 64)
        {
            return null;
        }

        var saltText = value.AsSpan(at + 1, last - at - 1);
        return Decode(saltText) is { Length: <= 64 } salt
            ? new Setting(value[..last], flags, (int)logN, (int)blockSize, (int)parallelism, (int)time, salt)
            : null;
    }

    /// <summary>libxcrypt's scrypt form: <c>$7$</c>, log2 N in one character, r and p in five each (30 bits), then the salt as it is.</summary>
    private static Setting? ReadScrypt(string value, int last)
    {
        if (value.Length < 14 || last < 14)
        {
            return null;
        }

        var logN = Alphabet(value[3]);
        var blockSize = Fixed(value.AsSpan(4, 5));
        var parallelism = Fixed(value.AsSpan(9, 5));
        if (logN is < 1 or > 40 || blockSize is not (>= 1 and <= 1024) || parallelism is not (>= 1 and <= 1024))
        {
            return null;
        }

        return new Setting(value[..last], 0, logN, (int)blockSize!, (int)parallelism!, 0, Encoding.ASCII.GetBytes(value[14..last]));
    }

    /// <summary>The string <paramref name="password"/> hashes to with <paramref name="setting"/>, to compare with the stored one.</summary>
    public static string Crypt(string password, Setting setting)
    {
        var hash = DeriveKey(Encoding.UTF8.GetBytes(password), setting.Salt, setting.Flags, setting.Cost, setting.BlockSize, setting.Parallelism, setting.Time);
        return setting.Prefix + "$" + Encode(hash);
    }

    /// <summary>yescrypt's 32-byte key (libxcrypt's <c>yescrypt_kdf</c> without ROM): classic scrypt when <paramref name="flags"/> is 0.</summary>
    public static byte[] DeriveKey(byte[] password, byte[] salt, uint flags, long cost, int blockSize, int parallelism, int time)
    {
        if (flags == 0)
        {
            return Scrypt.DeriveKey(password, salt, checked((int)cost), blockSize, parallelism, 32);
        }

        // A large read-write hash first runs a pass of 1/64 the memory and hashes what that gives instead of the password.
        if ((flags & ReadWrite) != 0 && cost / parallelism >= 0x100 && cost / parallelism * blockSize >= 0x20000)
        {
            password = Body(password, salt, flags | PreHash, cost >> 6, blockSize, parallelism, 0);
        }

        return Body(password, salt, flags, cost, blockSize, parallelism, time);
    }

    private static byte[] Body(byte[] password, byte[] salt, uint flags, long cost, int blockSize, int parallelism, int time)
    {
        var readWrite = (flags & ReadWrite) != 0;
        if (cost < 2 || !BitOperations.IsPow2(cost) || (readWrite && cost / parallelism <= 1) || cost * blockSize > int.MaxValue / 32)
        {
            throw new ArgumentOutOfRangeException(nameof(cost), "yescrypt needs N a power of two above 1, and above p when read-write");
        }

        var key = HMACSHA256.HashData(Encoding.ASCII.GetBytes((flags & PreHash) != 0 ? "yescrypt-prehash" : "yescrypt"), password);
        var words = 32 * blockSize;
        var b = Words(Rfc2898DeriveBytes.Pbkdf2(key, salt, 1, HashAlgorithmName.SHA256, parallelism * 128 * blockSize));
        key = Bytes(b.AsSpan(0, 8));
        var v = new uint[checked((int)cost * words)];
        var xy = new uint[2 * words];
        if (readWrite)
        {
            key = Mix(b, blockSize, cost, parallelism, time, flags, v, xy, [.. Enumerable.Range(0, parallelism).Select(_ => new SBoxes())], key);
        }
        else
        {
            for (var i = 0; i < parallelism; i++)
            {
                Mix(b.AsSpan(i * words, words), blockSize, cost, 1, time, flags, v, xy, null, key);
            }
        }

        var derived = Rfc2898DeriveBytes.Pbkdf2(key, Bytes(b), 1, HashAlgorithmName.SHA256, 32);
        if ((flags & PreHash) != 0)
        {
            return derived;
        }

        // The last steps are SCRAM's: the client key's SHA-256 (its stored key) is the hash.
        return SHA256.HashData(HMACSHA256.HashData(derived, "Client Key"u8));
    }

    /// <summary>
    /// SMix over p lanes: each lane fills its share of the work area and revisits it (read-write), then every lane reads
    /// the whole area. Returns the key the last steps use: the password's stand-in, rekeyed by the first lane in read-write mode.
    /// </summary>
    private static byte[] Mix(Span<uint> b, int blockSize, long cost, int parallelism, int time, uint flags, uint[] v, uint[] xy, SBoxes[]? boxes, byte[] key)
    {
        var readWrite = (flags & ReadWrite) != 0;
        var words = 32 * blockSize;
        var chunk = cost / parallelism;
        var loops = chunk;
        if (readWrite)
        {
            loops = time <= 1 ? ((time == 1 ? loops * 2 : loops) + 2) / 3 : loops * (time - 1);
        }
        else if (time != 0)
        {
            loops = (time == 1 ? loops + (loops + 1) / 2 : loops) * time;
        }

        var loopsOwn = readWrite ? loops / parallelism : 0;
        chunk &= ~1L;
        loops = (loops + 1) & ~1L;
        loopsOwn = (loopsOwn + 1) & ~1L;

        for (var i = 0; i < parallelism; i++)
        {
            var start = i * chunk;
            var size = i < parallelism - 1 ? chunk : cost - start;
            var lane = b.Slice(i * words, words);
            var own = v.AsSpan(checked((int)(start * words)), checked((int)(size * words)));
            SBoxes? sBoxes = null;
            if (readWrite)
            {
                sBoxes = boxes![i];
                // The S-boxes are filled by a classic mix of the lane's first 128 bytes.
                Fill(lane[..32], 1, SBoxWords * 3 / 32, 0, sBoxes.Words, xy, null);
                sBoxes.Reset();
                if (i == 0)
                {
                    key = HMACSHA256.HashData(Bytes(lane[(words - 16)..]), key);
                }
            }

            Fill(lane, blockSize, size, flags, own, xy, sBoxes);
            Revisit(lane, blockSize, 1L << BitOperations.Log2((ulong)size), loopsOwn, flags, own, xy, sBoxes);
        }

        for (var i = 0; i < parallelism; i++)
        {
            Revisit(b.Slice(i * words, words), blockSize, cost, loops - loopsOwn, flags & ~ReadWrite, v, xy, boxes?[i]);
        }

        return key;
    }

    /// <summary>SMix's first loop: fill <paramref name="count"/> blocks, read-write mode also mixing in an earlier one each time.</summary>
    private static void Fill(Span<uint> block, int blockSize, long count, uint flags, Span<uint> v, uint[] xy, SBoxes? sBoxes)
    {
        var words = 32 * blockSize;
        var x = xy.AsSpan(0, words);
        Shuffle(block, x);
        for (long i = 0; i < count; i++)
        {
            x.CopyTo(v.Slice((int)(i * words), words));
            if ((flags & ReadWrite) != 0 && i > 1)
            {
                Xor(x, v.Slice((int)(Wrap(Integerify(x, blockSize), i) * words), words));
            }

            Hash(x, xy.AsSpan(words), blockSize, sBoxes);
        }

        Unshuffle(x, block);
    }

    /// <summary>SMix's second loop: <paramref name="loops"/> times mix in the block the state points at (and, read-write, write it back).</summary>
    private static void Revisit(Span<uint> block, int blockSize, long count, long loops, uint flags, Span<uint> v, uint[] xy, SBoxes? sBoxes)
    {
        var words = 32 * blockSize;
        var x = xy.AsSpan(0, words);
        Shuffle(block, x);
        for (long i = 0; i < loops; i++)
        {
            var chosen = v.Slice((int)((long)(Integerify(x, blockSize) & (ulong)(count - 1)) * words), words);
            Xor(x, chosen);
            if ((flags & ReadWrite) != 0)
            {
                x.CopyTo(chosen);
            }

            Hash(x, xy.AsSpan(words), blockSize, sBoxes);
        }

        Unshuffle(x, block);
    }

    private static void Hash(Span<uint> x, Span<uint> y, int blockSize, SBoxes? sBoxes)
    {
        if (sBoxes is null)
        {
            BlockMixSalsa8(x, y, blockSize);
        }
        else
        {
            BlockMixPwxform(x, y, blockSize, sBoxes);
        }
    }

    /// <summary>scrypt's BlockMix, on blocks kept in the shuffled word order (see <see cref="Salsa"/>).</summary>
    private static void BlockMixSalsa8(Span<uint> b, Span<uint> y, int blockSize)
    {
        Span<uint> state = stackalloc uint[16];
        b.Slice((2 * blockSize - 1) * 16, 16).CopyTo(state);
        for (var i = 0; i < 2 * blockSize; i++)
        {
            Xor(state, b.Slice(i * 16, 16));
            Salsa(state, 8);
            state.CopyTo(y.Slice((i % 2 == 0 ? i / 2 : blockSize + i / 2) * 16, 16));
        }

        y[..(32 * blockSize)].CopyTo(b);
    }

    /// <summary>yescrypt's BlockMix: pwxform over 64-byte parts, each fed the last, then Salsa20/2 over the last part.</summary>
    private static void BlockMixPwxform(Span<uint> b, Span<uint> y, int blockSize, SBoxes sBoxes)
    {
        var parts = 2 * blockSize;
        var state = y[..PwxWords];
        b.Slice((parts - 1) * PwxWords, PwxWords).CopyTo(state);
        for (var i = 0; i < parts; i++)
        {
            if (parts > 1)
            {
                Xor(state, b.Slice(i * PwxWords, PwxWords));
            }

            sBoxes.Pwxform(state);
            state.CopyTo(b.Slice(i * PwxWords, PwxWords));
        }

        Salsa(b.Slice((parts - 1) * 16, 16), 2);
    }

    /// <summary>
    /// The Salsa20 core on a block whose words are kept in yescrypt's SIMD-friendly order (word i at position 5·i mod 16 of
    /// the natural order).
    /// </summary>
    private static void Salsa(Span<uint> block, int rounds)
    {
        Span<uint> natural = stackalloc uint[16];
        for (var i = 0; i < 16; i++)
        {
            natural[i * 5 % 16] = block[i];
        }

        Scrypt.Salsa(natural, rounds);
        for (var i = 0; i < 16; i++)
        {
            block[i] = natural[i * 5 % 16];
        }
    }

    private static void Shuffle(ReadOnlySpan<uint> block, Span<uint> x)
    {
        for (var k = 0; k < block.Length; k += 16)
        {
            for (var i = 0; i < 16; i++)
            {
                x[k + i] = block[k + i * 5 % 16];
            }
        }
    }

    private static void Unshuffle(ReadOnlySpan<uint> x, Span<uint> block)
    {
        for (var k = 0; k < block.Length; k += 16)
        {
            for (var i = 0; i < 16; i++)
            {
                block[k + i * 5 % 16] = x[k + i];
            }
        }
    }

    /// <summary>The last 64-byte part's first 64 bits (words 0 and 13 in the shuffled order).</summary>
    private static ulong Integerify(ReadOnlySpan<uint> x, int blockSize)
    {
        var last = (2 * blockSize - 1) * 16;
        return ((ulong)x[last + 13] << 32) | x[last];
    }

    /// <summary>x mapped into 0…i−1: the low bits below the largest power of two not above i, shifted up to the newest blocks.</summary>
    private static long Wrap(ulong x, long i)
    {
        var power = 1L << BitOperations.Log2((ulong)i);
        return (long)(x & (ulong)(power - 1)) + (i - power);
    }

    private static void Xor(Span<uint> into, ReadOnlySpan<uint> other)
    {
        for (var k = 0; k < into.Length; k++)
        {
            into[k] ^= other[k];
        }
    }

    private static uint[] Words(byte[] bytes)
    {
        var words = new uint[bytes.Length / 4];
        for (var k = 0; k < words.Length; k++)
        {
            words[k] = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(4 * k));
        }

        return words;
    }

    private static byte[] Bytes(ReadOnlySpan<uint> words)
    {
        var bytes = new byte[4 * words.Length];
        for (var k = 0; k < words.Length; k++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4 * k), words[k]);
        }

        return bytes;
    }

    /// <summary>pwxform's three S-boxes, rotated after each use, the newest being written as the block is transformed.</summary>
    private sealed class SBoxes
    {
        public uint[] Words { get; } = new uint[3 * SBoxWords];

        private int _s0, _s1, _s2, _write;

        /// <summary>After filling: the first box is written to next, the last is read as S0.</summary>
        public void Reset() => (_s2, _s1, _s0, _write) = (0, SBoxWords, 2 * SBoxWords, 0);

        /// <summary>Six rounds of multiply, add and xor over each 64-bit lane, indexed into S0 and S1 by the gather's first lane.</summary>
        public void Pwxform(Span<uint> block)
        {
            for (var round = 0; round < PwxRounds; round++)
            {
                for (var j = 0; j < Gathers; j++)
                {
                    var at = j * Lanes * 2;
                    var p0 = _s0 + (int)((block[at] & SBoxMask) / 4);
                    var p1 = _s1 + (int)((block[at + 1] & SBoxMask) / 4);
                    for (var k = 0; k < Lanes; k++)
                    {
                        var s0 = ((ulong)Words[p0 + 2 * k + 1] << 32) + Words[p0 + 2 * k];
                        var s1 = ((ulong)Words[p1 + 2 * k + 1] << 32) + Words[p1 + 2 * k];
                        var x = ((ulong)block[at + 2 * k + 1] * block[at + 2 * k] + s0) ^ s1;
                        block[at + 2 * k] = (uint)x;
                        block[at + 2 * k + 1] = (uint)(x >> 32);
                        if (round != 0 && round != PwxRounds - 1)
                        {
                            Words[_s2 + 2 * _write] = (uint)x;
                            Words[_s2 + 2 * _write + 1] = (uint)(x >> 32);
                            _write++;
                        }
                    }
                }
            }

            (_s0, _s1, _s2) = (_s2, _s0, _s1);
            _write &= (1 << 8) * Lanes - 1;
        }
    }

    private static int Alphabet(char c) => UnixCrypt.Alphabet.IndexOf(c, StringComparison.Ordinal);

    /// <summary>
    /// One of yescrypt's variable-length numbers: the first character's value says how many follow (0–47 none, then a
    /// shrinking range for each more), each following one six more bits, most significant first; null when malformed.
    /// </summary>
    private static ulong? Number(string text, ref int at, uint min)
    {
        if (at >= text.Length || Alphabet(text[at++]) is not (>= 0 and var c))
        {
            return null;
        }

        ulong value = min;
        int start = 0, end = 47, characters = 1, bits = 0;
        while (c > end)
        {
            value += (ulong)(end + 1 - start) << bits;
            start = end + 1;
            end = start + (62 - end) / 2;
            characters++;
            bits += 6;
        }

        value += (ulong)(c - start) << bits;
        while (--characters > 0)
        {
            if (at >= text.Length || Alphabet(text[at++]) is not (>= 0 and var next))
            {
                return null;
            }

            bits -= 6;
            value += (ulong)next << bits;
        }

        return value <= uint.MaxValue ? value : null;
    }

    /// <summary>A fixed-width number of <c>$7$</c>: five characters, least significant six bits first.</summary>
    private static long? Fixed(ReadOnlySpan<char> text)
    {
        long value = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (Alphabet(text[i]) is not (>= 0 and var c))
            {
                return null;
            }

            value |= (long)c << (6 * i);
        }

        return value;
    }

    /// <summary>yescrypt's base64 of bytes (crypt's alphabet, little-endian groups of three bytes); null when malformed or not canonical.</summary>
    public static byte[]? Decode(ReadOnlySpan<char> text)
    {
        var bytes = new List<byte>(text.Length * 3 / 4);
        for (var i = 0; i < text.Length;)
        {
            uint value = 0;
            var bits = 0;
            for (; i < text.Length && bits < 24; i++, bits += 6)
            {
                if (Alphabet(text[i]) is not (>= 0 and var c))
                {
                    return null;
                }

                value |= (uint)c << bits;
            }

            if (bits < 12)
            {
                return null;
            }

            for (; bits >= 8; bits -= 8, value >>= 8)
            {
                bytes.Add((byte)value);
            }

            if (value != 0)
            {
                return null;
            }
        }

        return [.. bytes];
    }

    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        var text = new StringBuilder((bytes.Length * 8 + 5) / 6);
        for (var i = 0; i < bytes.Length; i += 3)
        {
            var group = Math.Min(3, bytes.Length - i);
            var value = 0;
            for (var k = 0; k < group; k++)
            {
                value |= bytes[i + k] << (8 * k);
            }

            UnixCrypt.Append(text, value, (group * 8 + 5) / 6);
        }

        return text.ToString();
    }
}

using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using LumoAuth.Admin.Data;
using LumoAuth.Contracts.Internal;
using LumoAuth.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Admin.Tests;

/// <summary>
/// Moving users here from another identity provider without their passwords: a user created with the provider's hash
/// (bcrypt from Auth0 or Okta, PBKDF2 or Argon2 from Keycloak, scrypt from Firebase, salted digests, LDAP's) signs in with
/// their old password, and that first sign-in replaces the hash with our own. A malformed or unbounded hash is refused; a bulk import creates each valid user on its own.
/// </summary>
public sealed class PasswordImportTests(AdminFactory factory) : IClassFixture<AdminFactory>
{
    private const string Password = "the Old Provider's password 1";

    private async Task<Guid> ImportAsync(TestTenant tenant, string email, object passwordHash)
    {
        using var admin = factory.ClientFor(tenant);
        using var created = await admin.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email, name = "Moved Over", emailVerified = true, passwordHash });
        var body = await ApiAssert.OkAsync(created, 201);
        Assert.DoesNotContain("passwordHash", body.ToJsonString(), StringComparison.OrdinalIgnoreCase);
        return body["data"]!["id"]!.GetValue<Guid>();
    }

    private async Task<string> OutcomeAsync(TestTenant tenant, string email, string password)
    {
        using var client = factory.Internal();
        using var response = await client.PostAsJsonAsync(InternalRoutes.Authenticate, new AuthenticateRequest(tenant.Id, email, password, null, null));
        return (await response.Content.ReadFromJsonAsync<AuthenticateResponse>())!.Outcome;
    }

    private async Task<string> StoredHashAsync(Guid userId)
    {
        await using var scope = factory.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        return (await db.Users.IgnoreQueryFilters().AsNoTracking().FirstAsync(u => u.Id == userId)).PasswordHash!;
    }

    private static string Pbkdf2(HashAlgorithmName algorithm, byte[] salt, int iterations, int length) =>
        Convert.ToBase64String(Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(Password), salt, iterations, algorithm, length));

    public static TheoryData<string, int> Kinds => new() { { "argon2", 32 }, { "bcrypt", 0 }, { "pbkdf2-sha1", 20 }, { "pbkdf2-sha512", 64 }, { "sha256", 0 }, { "ldap", 0 } };

    private static string Unpadded(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=');

    /// <summary>Keycloak's default Argon2 settings (7 MiB, 5 passes, 1 lane), written as a PHC string.</summary>
    private static string Argon2id(byte[] salt, int length)
    {
        using var argon2 = new Konscious.Security.Cryptography.Argon2id(Encoding.UTF8.GetBytes(Password))
        {
            Salt = salt, MemorySize = 7168, Iterations = 5, DegreeOfParallelism = 1,
        };
        return $"$argon2id$v=19$m=7168,t=5,p=1${Unpadded(salt)}${Unpadded(argon2.GetBytes(length))}";
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task AnImportedHash_SignsInWithTheOldPassword_AndIsReplacedByOursAtTheFirstSignIn(string algorithm, int keyLength)
    {
        var tenant = await factory.CreateTenantAsync();
        var email = $"moved-{algorithm}@{tenant.Slug}.example.com";
        var salt = RandomNumberGenerator.GetBytes(16);
        var secret = Encoding.UTF8.GetBytes(Password);
        object hash = algorithm == "argon2" ? new { algorithm, value = Argon2id(salt, keyLength) }
            // A salted digest in hex, the salt after the password; LDAP's {SSHA} puts the salt after the digest.
            : algorithm == "sha256" ? new { algorithm, value = Convert.ToHexStringLower(SHA256.HashData([.. secret, .. salt])), salt = Convert.ToBase64String(salt), saltPosition = "suffix" }
#pragma warning disable CA5350 // LDAP's {SSHA} is SHA-1: importing such hashes is what is tested.
            : algorithm == "ldap" ? new { algorithm, value = "{SSHA}" + Convert.ToBase64String([.. SHA1.HashData([.. secret, .. salt[..8]]), .. salt[..8]]) }
#pragma warning restore CA5350
            : algorithm == "bcrypt"
            // Node's bcrypt (Auth0) writes $2b$; the algorithm is the same as $2a$'s.
            ? new { algorithm, value = "$2b$" + BCrypt.Net.BCrypt.HashPassword(Password, 10)[4..] }
            : new
            {
                algorithm, value = Pbkdf2(algorithm == "pbkdf2-sha1" ? HashAlgorithmName.SHA1 : HashAlgorithmName.SHA512, salt, 20_000, keyLength),
                salt = Convert.ToBase64String(salt), iterations = 20_000,
            };
        var userId = await ImportAsync(tenant, email, hash);
        var imported = await StoredHashAsync(userId);

        Assert.Equal(AuthenticationOutcomes.InvalidCredentials, await OutcomeAsync(tenant, email, "not the password 1"));
        Assert.Equal(imported, await StoredHashAsync(userId));
        Assert.Equal(AuthenticationOutcomes.Success, await OutcomeAsync(tenant, email, Password));

        var ours = await StoredHashAsync(userId);
        Assert.StartsWith("pbkdf2-sha256$", ours, StringComparison.Ordinal);
        Assert.NotEqual(imported, ours);
        Assert.Equal(AuthenticationOutcomes.Success, await OutcomeAsync(tenant, email, Password));
    }

    /// <summary>Hashes written by the reference implementations, so ours is known to read theirs.</summary>
    [Theory]
    [InlineData("argon2", "$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG", "password")]
    [InlineData("bcrypt", "$2a$06$If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i", "abc")]
    [InlineData("md5", "5f4dcc3b5aa765d61d8327deb882cf99", "password")]
    [InlineData("ldap", "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "password")]
    public async Task HashesOfTheReferenceImplementations_Verify(string algorithm, string value, string password) =>
        await ImportsAndVerifiesAsync(new { algorithm, value }, password);

    /// <summary>
    /// Firebase's published example of its scrypt (the project's hash config, and one exported user), and a hash from
    /// Python's <c>hashlib.scrypt</c> (OpenSSL's) with the parameters Node and passlib use.
    /// </summary>
    [Fact]
    public async Task ScryptHashesOfFirebaseAndOpenSsl_Verify()
    {
        await ImportsAndVerifiesAsync(new
        {
            algorithm = "firebase-scrypt", value = "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==",
            salt = "42xEC+ixf3L2lw==", saltSeparator = "Bw==", rounds = 8, memoryCost = 14,
            signerKey = "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==",
        }, "user1password");
        await ImportsAndVerifiesAsync(new
        {
            algorithm = "scrypt", value = "+L2yhN8HlA0+qjnTD9JEp/Hv5QtgYkLe6fk7HWYdOos=", salt = "cGVwcGVyIGFuZCBzYWx0IQ==", cost = 16384, blockSize = 8, parallelism = 1,
        }, Password);
    }

    /// <summary>
    /// Django's <c>password</c> column as it is (hashes from Python's <c>hashlib</c>, written the way Django's hashers write
    /// them; the Argon2 one is the reference implementation's vector in Django's wrapping), phpass's own test vector (which
    /// WordPress before 6.8 and phpBB write), and WordPress 6.8's bcrypt over an HMAC and Django's bcrypt over SHA-256,
    /// made here as those hashers make them. The Drupal 7 hash was computed with a separate Python implementation of its algorithm.
    /// </summary>
    [Fact]
    public async Task HashesOfDjangoWordPressPhpBbAndDrupal_Verify()
    {
        foreach (var value in new[]
                 {
                     "pbkdf2_sha256$1000$seasalt2024abcdefghijk$Ywqatw1aJ4ny3Ajv6ZEz+IQSQGsq9epCLGN60X0whUc=",
                     "scrypt$16384$seasalt2024abcdefghijk$8$1$" + DjangoScrypt(),
                     "sha1$seasalt2024abcdefghijk$54b49a8cfeae070206220ff79fb6c150111bc5dd",
                     "md5$seasalt2024abcdefghijk$252875c61ffe86e56f0df73ae64889d9",
                     "bcrypt$" + BCrypt.Net.BCrypt.HashPassword(Password, 4),
                     "bcrypt_sha256$" + BCrypt.Net.BCrypt.HashPassword(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Password))), 4),
                 })
        {
            await ImportsAndVerifiesAsync(new { algorithm = "django", value }, Password);
        }

        await ImportsAndVerifiesAsync(new { algorithm = "django", value = "argon2$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG" }, "password");
        await ImportsAndVerifiesAsync(new { algorithm = "phpass", value = "$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0" }, "test12345");
        await ImportsAndVerifiesAsync(new { algorithm = "phpass", value = "$H$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0" }, "test12345");
        await ImportsAndVerifiesAsync(new { algorithm = "phpass", value = "$S$DAbcdefghfj.R8k15zrrjXR7e3x2tkVgpEz2LKtbneSF3EIWu0lb" }, "correct horse");
        await ImportsAndVerifiesAsync(new { algorithm = "wordpress", value = "$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0" }, "test12345");
        var hmac = Convert.ToBase64String(HMACSHA384.HashData("wp-sha384"u8, Encoding.UTF8.GetBytes(Password)));
        await ImportsAndVerifiesAsync(new { algorithm = "wordpress", value = "$wp$2y$" + BCrypt.Net.BCrypt.HashPassword(hmac, 4)[4..] }, Password);
    }

    /// <summary>
    /// Python applications' hashes: passlib's (the PBKDF2-SHA256 and scrypt hashes are passlib's documented examples; the
    /// SHA-1 and SHA-512 ones were made here with hashlib in passlib's layout), the same PBKDF2 behind OpenLDAP's
    /// pw-pbkdf2 scheme name, and Werkzeug's (made by Werkzeug 3.1.8's <c>generate_password_hash</c>, as Flask applications store them).
    /// </summary>
    [Fact]
    public async Task HashesOfPasslibWerkzeugAndOpenLdapPbkdf2_Verify()
    {
        foreach (var (algorithm, value, password) in new[]
                 {
                     ("passlib", "$pbkdf2-sha256$6400$0ZrzXitFSGltTQnBWOsdAw$Y11AchqV4b0sUisdZd0Xr97KWoymNE0LNNrnEgY4H9M", "password"),
                     ("passlib", "$scrypt$ln=8,r=8,p=1$WKs1xljLudd6z9kbY0wpJQ$yCR4iDZYDKv+iEJj6yHY0lv/epnfB6f/w1EbXrsJOuQ", "password"),
                     ("passlib", "$pbkdf2$5000$U2Vhc2FsdC1mb3ItbHVtbw$QA9r13KJ7qIw7FOjOzCPe4aIWBI", "correct horse"),
                     ("passlib", "$pbkdf2-sha512$3000$U2Vhc2FsdC1mb3ItbHVtbw$lM/MUWWNLb/wUK/PsekWuIzfmcd/ESW7axPQPL5j4.er7UxT0FyIMv4cDjtecNx7.8xonvvUQfgnhaiv111Wlg", "correct horse"),
                     ("ldap", "{PBKDF2-SHA256}6400$0ZrzXitFSGltTQnBWOsdAw$Y11AchqV4b0sUisdZd0Xr97KWoymNE0LNNrnEgY4H9M", "password"),
                     ("werkzeug", "pbkdf2:sha256:1000$9aE5lX2TJ4oW0uOA$6befc7def428e1ee63ac4e3361a49dc7af47c03b374f7135ff68df9e9a1f8984", "correct horse"),
                     ("werkzeug", "pbkdf2:sha1:2000$rZOw6B5vIusAGW4f$3c48ca056ff031a366702507a363fae34755c59a", "correct horse"),
                     ("werkzeug", "pbkdf2:sha512:1000$29WjD6QiF6t1kj1A$d66b8bac305c5188bbaa609d4aaad5670f07e2953a339ae98615a1a0c948d3111a71a02ea0b04a7cd0dee7d7f4192a01f8b44430c147b50d97a00587907b7ead", "correct horse"),
                     ("werkzeug", "scrypt:32768:8:1$YMraESBEzgLtdalL$61e64bdb640e722495feb0b98afd3dee0ef9b313d647979f5f278c3ebda8bf6e2f5627929f05c631494dd3ea52933af4095e57a698cc27b0ee85283d7b7d015f", "correct horse"),
                 })
        {
            await ImportsAndVerifiesAsync(new { algorithm, value }, password);
        }

        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        foreach (var (algorithm, value) in new[]
                 {
                     ("passlib", "$pbkdf2-sha256$3000000$0ZrzXitFSGltTQnBWOsdAw$Y11AchqV4b0sUisdZd0Xr97KWoymNE0LNNrnEgY4H9M"),
                     ("passlib", "$pbkdf2-sha256$6400$$Y11AchqV4b0sUisdZd0Xr97KWoymNE0LNNrnEgY4H9M"),
                     ("passlib", "$pbkdf2-md5$6400$0ZrzXitFSGltTQnBWOsdAw$Y11AchqV4b0sUisdZd0Xr97KWoymNE0LNNrnEgY4H9M"),
                     ("passlib", "$scrypt$ln=21,r=8,p=1$WKs1xljLudd6z9kbY0wpJQ$yCR4iDZYDKv+iEJj6yHY0lv/epnfB6f/w1EbXrsJOuQ"),
                     ("passlib", "$scrypt$ln=31,r=8,p=1$WKs1xljLudd6z9kbY0wpJQ$yCR4iDZYDKv+iEJj6yHY0lv/epnfB6f/w1EbXrsJOuQ"),
                     ("passlib", "$scrypt$n=256,r=8,p=1$WKs1xljLudd6z9kbY0wpJQ$yCR4iDZYDKv+iEJj6yHY0lv/epnfB6f/w1EbXrsJOuQ"),
                     ("passlib", "$5$rounds=5000$salt$hash"),
                     ("ldap", "{PBKDF2-MD5}6400$0ZrzXitFSGltTQnBWOsdAw$Y11AchqV4b0sUisdZd0Xr97KWoymNE0LNNrnEgY4H9M"),
                     ("werkzeug", "pbkdf2:md5:1000$9aE5lX2TJ4oW0uOA$6befc7def428e1ee63ac4e3361a49dc7af47c03b374f7135ff68df9e9a1f8984"),
                     ("werkzeug", "pbkdf2:sha256$9aE5lX2TJ4oW0uOA$6befc7def428e1ee63ac4e3361a49dc7af47c03b374f7135ff68df9e9a1f8984"),
                     ("werkzeug", "pbkdf2:sha256:1000$$6befc7def428e1ee63ac4e3361a49dc7af47c03b374f7135ff68df9e9a1f8984"),
                     ("werkzeug", "pbkdf2:sha256:1000$9aE5lX2TJ4oW0uOA$not hex"),
                     ("werkzeug", "scrypt:1048576:8:1$YMraESBEzgLtdalL$61e64bdb640e722495feb0b98afd3dee0ef9b313d647979f5f278c3ebda8bf6e"),
                     ("werkzeug", "sha256$salt$61e64bdb640e722495feb0b98afd3dee"),
                 })
        {
            var error = await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users",
                new { email = $"x@{tenant.Slug}.example.com", passwordHash = new { algorithm, value } }), 400, "validation_error");
            Assert.True(error["details"]!.AsObject().ContainsKey("passwordHash"), value);
        }
    }

    // Django's scrypt hash of Password (N 2^14, r 8, p 1, 64 bytes), split off so the line above stays readable.
    private static string DjangoScrypt() =>
        "P29Cd9wx9o8Vuty2PF7Y/tRFfYy8sz10ud37trQTaJy9vXrf2lJDYQ89YLTyQncrhU9XXIQSdV/ysteEu8n1rQ==";

    /// <summary>Every format at its largest salt and key is stored whole.</summary>
    [Fact]
    public async Task TheLargestHashesWithinTheBounds_AreStored()
    {
        var tenant = await factory.CreateTenantAsync();
        var big = Convert.ToBase64String(RandomNumberGenerator.GetBytes(128));
        object[] hashes =
        [
            new { algorithm = "argon2", value = $"$argon2id$v=19$m=131072,t=10,p=8${big.TrimEnd('=')}${big.TrimEnd('=')}" },
            new { algorithm = "firebase-scrypt", value = big, salt = big, signerKey = big, saltSeparator = Convert.ToBase64String(new byte[16]), rounds = 8, memoryCost = 14 },
            new { algorithm = "scrypt", value = big, salt = big, cost = 131072, blockSize = 8, parallelism = 1 },
            new { algorithm = "pbkdf2-sha512", value = big, salt = big, iterations = 2_000_000 },
            new { algorithm = "ldap", value = "{SSHA512}" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(64 + 128)) },
            // yescrypt at 128 MiB (N 2^15, r 32) with its largest salt, 64 bytes.
            new
            {
                algorithm = "crypt",
                value = $"$y$jCT${LumoAuth.Admin.Security.Yescrypt.Encode(RandomNumberGenerator.GetBytes(64))}${LumoAuth.Admin.Security.Yescrypt.Encode(RandomNumberGenerator.GetBytes(32))}",
            },
        ];
        for (var i = 0; i < hashes.Length; i++)
        {
            var userId = await ImportAsync(tenant, $"big{i}@{tenant.Slug}.example.com", hashes[i]);
            Assert.False(string.IsNullOrEmpty(await StoredHashAsync(userId)));
        }
    }

    private async Task ImportsAndVerifiesAsync(object hash, string password)
    {
        var tenant = await factory.CreateTenantAsync();
        var email = $"reference@{tenant.Slug}.example.com";
        var userId = await ImportAsync(tenant, email, hash);
        Assert.Equal(AuthenticationOutcomes.InvalidCredentials, await OutcomeAsync(tenant, email, password + "x"));
        Assert.Equal(AuthenticationOutcomes.Success, await OutcomeAsync(tenant, email, password));
        Assert.StartsWith("pbkdf2-sha256$", await StoredHashAsync(userId), StringComparison.Ordinal);
    }

    /// <summary>RFC 7914 §12's test vectors (the last, at 1 GiB, left out), and one with several lanes from OpenSSL.</summary>
    [Theory]
    [InlineData("", "", 16, 1, 1, "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906")]
    [InlineData("password", "NaCl", 1024, 8, 16, "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640")]
    [InlineData("pleaseletmein", "SodiumChloride", 16384, 8, 1, "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887")]
    public void Scrypt_MatchesTheRfcVectors(string password, string salt, int cost, int blockSize, int parallelism, string expected) =>
        Assert.Equal(expected, Convert.ToHexStringLower(
            LumoAuth.Admin.Security.Scrypt.DeriveKey(Encoding.UTF8.GetBytes(password), Encoding.UTF8.GetBytes(salt), cost, blockSize, parallelism, 64)));

    /// <summary>glibc's crypt(3) (libxcrypt, through Python's crypt module) of random passwords and salts, rounds given or not, and the spec's first example.</summary>
    [Theory]
    [InlineData("jO@69'cK-7#r4bTR8ub)S7+fs==-7,-O6", "$5$rounds=1234$f$YGs3kpT3raxlHeutllirDDfvovTCyGwnVYnb4H0FR.0")]
    [InlineData("A|N\\I2XJl;e\"7rAgvOO\"alVP)zhT)z{RJ^Mtjamjt[t1!.nxA0iR'L;+Eg_$<@]6", "$5$YYZYn9ZhyiA4uoRg$GCf3shQCdFwasQpin5sTPB/3WLbe/9I55UjsWalOBX8")]
    [InlineData("Y[Ij))g21}@d&hTor3wrB#u.Fx(Rg7JW[-%R#g'j&$2Un:0jmiY<}f*7F^%&*Zd*7voz5c#V*38UF;#:$p_zV$'Z#v`%x*pVhRfO", "$6$rounds=5000$OjE2jBMptUsGr7Cm$0fDolxPjIaEW6sMLdQOhyfqQTkmVbCKZLFQm8WFL79dCcc2SgAMvIHOAf23ZGFA1ejxKU/DbXO1BqnwKFLHy3.")]
    [InlineData("\\sk{T", "$5$rounds=1234$ZR1zTOlUcR64cXQL$5Qkz5xjFtEfUsWDiqCQq8N1/UWi48er8mMUc2W6yNW5")]
    [InlineData("5nygS]xPj'$,\"`Fbz7_nS9y2>bxa:s8x", "$6$$8kqeyfUbDxbO5Yl6ZCqY91a9sdoipG0S6jH6hoBJQtPaRn1TFcEcea8JWeTx0djNuFrnQhTn44aGMocv/PFw10")]
    [InlineData(")Ry<g5&{uekx6npD=D&qBV#]myI2w412~", "$6$rounds=5000$y8F5n3/YNBDRzrZS$1pHGb0SVoBl.ASSqYHQndoy5143ihm5dzx63a9WyiHdwLQFKToNLeWTYoofJmzJpJbf/lPBStZDgW0uO3PzG41")]
    [InlineData("7a\\M#", "$5$rounds=1234$FLf6xuI5$fIz2RVsBzArC9DS7Rrom9eLWmeEUOiONgv2fRuzid46")]
    [InlineData("F}\"jA}<?i5|$=S~`#h&#+2^-|^_?ta35h>KdMV*6=2='^v!x0W8#'b[&8Yw9xu~", "$6$rounds=5000$D$12yq0lsSRd7QlAJrN6j1b55EVq0t9j6u1fXh2ky5sW2AQwDNO2Ha4xociiZlJZL7Q2jtn.VW1GW/rpL2RMfau/")]
    [InlineData("9Z^A5;=?p9/iGw@_C<+h1Z7!y]c_r]!B{%AXXXf)pDaY2BW9#VyNqq9-bi&xKg:", "$6$JoUD/.Ydua.5ZMs1$NilFdIjMRNsj0K7OiiBvzb43WJOUKjc8IjjVoqwtRPMBfn4i.NW.OXh4hiRHKZ5i7Ce48MfOg6e2VviwzSQ111")]
    [InlineData("Hello world!", "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5")]
    [InlineData("päss wörd", "$6$abc$VFbgfbQyyBHp85p1SnL4wcbNkXLDDKIpsxr/rd6fiF9sXG/q2bVX99kTdfrD95pMbskZfa3v37OToppsklLKj/")]
    public void ShaCrypt_MatchesGlibc(string password, string expected) =>
        Assert.Equal(expected, LumoAuth.Admin.Security.ShaCrypt.Crypt(password, expected));

    /// <summary>MD5-crypt and Apache's variant as OpenSSL's <c>passwd -1</c> and <c>-apr1</c> write them.</summary>
    [Theory]
    [InlineData("correct horse", "$1$saltsalt$NuzA7WTAelpl95xgBGWN60")]
    [InlineData("correct horse", "$apr1$saltsalt$EGVZDNN6gOqijy.tv9axG/")]
    [InlineData("", "$1$ab$rn6aQS/o7141mj179E/zA.")]
    [InlineData("a very long password that is longer than sixteen bytes", "$apr1$x$qddZ/ma92FpSKo5A/QYWg/")]
    [InlineData("a very long password that is longer than sixteen bytes", "$1$x$MvaNYYfqo.ZzKsQIpqMWh0")]
    public void Md5Crypt_MatchesOpenSsl(string password, string expected) =>
        Assert.Equal(expected, LumoAuth.Admin.Security.Md5Crypt.Crypt(password, expected));

    /// <summary>
    /// Hashes made by libxcrypt 4.4 (Debian 12's <c>crypt</c>, through Python's module): yescrypt at Debian's default cost
    /// (j9T, 16 MiB, the smallest that runs the pre-hash pass), smaller ones with p and t, an empty password, the
    /// write-once and classic flavours, and the <c>$7$</c> scrypt form (the RFC 7914 inputs). Few at 16 MiB: each costs
    /// a tenth of a second alone, seconds beside the other tests.
    /// </summary>
    [Theory]
    [InlineData("password", "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$tnSYvahCwPBHKZUspmcxMfb0.WiB9W.zEaKlOBL35rC")]
    [InlineData("pässwörd ✓", "$y$j9T$K6Gq1Z2fuFs9XEJmX0O.H/$L74dWNtJVYuYlJFXUIzAYKVc2ItjwDdMmdXfZBGxNz9")]
    [InlineData("password", "$y$j75$F5Jx5fExrKuPp53xLKQ..1$6Ttv8PR0mzms/.RLVEgTO2JmLY0FDC7Cfd.UUAxsEO8")]
    [InlineData("", "$y$j75$F5Jx5fExrKuPp53xLKQ..1$c8tztuygy5KLG6.YQ9M73I8HxQwBhNB/SZP9PahpzX8")]
    [InlineData("password", "$y$j75..$F5Jx5fExrKuPp53xLKQ..1$R1E1diHtFoPNxvRoCvqtQsXu23kLaJIgPzPLuXEnpOC")]
    [InlineData("password", "$y$j8D/.$F5Jx5fExrKuPp53xLKQ..1$ZdJMzhya9PwonWZnFM.QuxTU0vd81RS9QA257wVAom6")]
    [InlineData("password", "$y$j8D/0$F5Jx5fExrKuPp53xLKQ..1$/wnHBq66iWekniy6rt1BGr7kncQu1QL5dZPUeKGtqB7")]
    [InlineData("password", "$y$/75//$F5Jx5fExrKuPp53xLKQ..1$zBV3Xw2whC4dWAgBWhE7fudmudeCAB.cURF4GtrWL.5")]
    [InlineData("password", "$y$/750..$F5Jx5fExrKuPp53xLKQ..1$Rb06umdRxbMMKJwcUsUhfwehGYpAmM7C3VxaxHvwf/C")]
    [InlineData("password", "$y$.75$F5Jx5fExrKuPp53xLKQ..1$TRTTndIqzTfSrvj8uWffoVuUerIuSk5u2rIAR1emx.1")]
    [InlineData("password", "$7$C6..../....SodiumChloride$6OIeehEnzbyu949sLkdyNyp6EorTTZ52ToM3ucR5RK7")]
    [InlineData("pleaseletmein", "$7$9/..../....saltstring$vEUcpb6I7QTmoZPN3azZf7fKiaBDE8QPesLHTtpHVK.")]
    public void Yescrypt_MatchesLibxcrypt(string password, string expected) =>
        Assert.Equal(expected, LumoAuth.Admin.Security.Yescrypt.Crypt(password, LumoAuth.Admin.Security.Yescrypt.Read(expected)!));

    /// <summary>Malformed yescrypt strings are not read (and never throw), whatever part is missing or cut short.</summary>
    [Theory]
    [InlineData("$y$")]
    [InlineData("$y$$")]
    [InlineData("$y$j9T$")]
    [InlineData("$y$j9T$tnSYvahCwPBHKZUspmcxMfb0.WiB9W.zEaKlOBL35rC")]
    [InlineData("$y$j$$tnSYvahCwPBHKZUspmcxMfb0.WiB9W.zEaKlOBL35rC")]
    [InlineData("$y$jzzzzzz$salt$tnSYvahCwPBHKZUspmcxMfb0.WiB9W.zEaKlOBL35rC")]
    [InlineData("$y$j9T/$F5Jx5fExrKuPp53xLKQ..1$tnSYvahCwPBHKZUspmcxMfb0.WiB9W.zEaKlOBL35rC")]
    [InlineData("$y$j9T$F5Jx5fExrKuPp53xLKQ..1$tnSYvahCwPBHKZUspmcxMfb0.WiB9W.zEaKlOBL35r")]
    [InlineData("$y$j9T$F5Jx5fExrKuPp53xLKQ..1$tnSYvahCwPBHKZUspmcxMfb0.WiB9W.zEaKlOBL35r!")]
    [InlineData("$y$j9T$F5Jx5fExrKuPp53xLKQ..!$tnSYvahCwPBHKZUspmcxMfb0.WiB9W.zEaKlOBL35rC")]
    [InlineData("$7$")]
    [InlineData("$7$C6..$tnSYvahCwPBHKZUspmcxMfb0.WiB9W.zEaKlOBL35rC")]
    [InlineData("$7$.6..../....salt$tnSYvahCwPBHKZUspmcxMfb0.WiB9W.zEaKlOBL35rC")]
    public void MalformedYescryptStrings_AreNotRead(string value) =>
        Assert.Null(LumoAuth.Admin.Security.Yescrypt.Read(value));

    /// <summary>
    /// Every value-only format, cut short at each length and with each character replaced or removed: each variation is
    /// either taken or refused with a reason, never an exception (which the API would answer with a 500).
    /// </summary>
    [Fact]
    public void CutOrCorruptedHashes_AreRefusedWithAReason_NeverThrow()
    {
        (string Algorithm, string Value)[] samples =
        [
            ("argon2", "$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"),
            ("bcrypt", "$2a$06$If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i"),
            ("crypt", "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$tnSYvahCwPBHKZUspmcxMfb0.WiB9W.zEaKlOBL35rC"),
            ("crypt", "$7$C6..../....SodiumChloride$6OIeehEnzbyu949sLkdyNyp6EorTTZ52ToM3ucR5RK7"),
            ("crypt", "$5$rounds=1234$FLf6xuI5$fIz2RVsBzArC9DS7Rrom9eLWmeEUOiONgv2fRuzid46"),
            ("crypt", "$apr1$saltsalt$EGVZDNN6gOqijy.tv9axG/"),
            ("django", "argon2$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"),
            ("django", "pbkdf2_sha256$1000$salty$P29Cd9wx9o8Vuty2PF7Y/tRFfYy8sz10ud37trQTaJy="),
            ("ldap", "{CRYPT}$6$abc$VFbgfbQyyBHp85p1SnL4wcbNkXLDDKIpsxr/rd6fiF9sXG/q2bVX99kTdfrD95pMbskZfa3v37OToppsklLKj/"),
            ("ldap", "{SSHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="),
            ("ldap", "{PBKDF2-SHA256}6400$0ZrzXitFSGltTQnBWOsdAw$Y11AchqV4b0sUisdZd0Xr97KWoymNE0LNNrnEgY4H9M"),
            ("passlib", "$pbkdf2-sha256$6400$0ZrzXitFSGltTQnBWOsdAw$Y11AchqV4b0sUisdZd0Xr97KWoymNE0LNNrnEgY4H9M"),
            ("passlib", "$scrypt$ln=8,r=8,p=1$WKs1xljLudd6z9kbY0wpJQ$yCR4iDZYDKv+iEJj6yHY0lv/epnfB6f/w1EbXrsJOuQ"),
            ("werkzeug", "pbkdf2:sha256:1000$9aE5lX2TJ4oW0uOA$6befc7def428e1ee63ac4e3361a49dc7af47c03b374f7135ff68df9e9a1f8984"),
            ("werkzeug", "scrypt:32768:8:1$YMraESBEzgLtdalL$61e64bdb640e722495feb0b98afd3dee0ef9b313d647979f5f278c3ebda8bf6e"),
            ("phpass", "$S$DAbcdefghfj.R8k15zrrjXR7e3x2tkVgpEz2LKtbneSF3EIWu0lb"),
            ("wordpress", "$wp$2y$10$If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i"),
        ];
        foreach (var (algorithm, value) in samples)
        {
            var variations = Enumerable.Range(0, value.Length).SelectMany(i => new[]
            {
                value[..i], value.Remove(i, 1), value[..i] + "$" + value[(i + 1)..], value[..i] + "z" + value[(i + 1)..], value[..i] + "\u00e9" + value[(i + 1)..],
            });
            foreach (var variation in variations)
            {
                var (stored, problem) = LumoAuth.Admin.Security.ImportedPasswordHashes.Import(new LumoAuth.Admin.Features.Users.ImportedPasswordHash(algorithm, variation, null, null));
                Assert.True((stored is null) != (problem is null), $"{algorithm} {variation}");
            }
        }
    }

    /// <summary>crypt(3) strings as /etc/shadow, OpenLDAP's {CRYPT}, htpasswd and passlib hold them.</summary>
    [Fact]
    public async Task CryptHashes_Verify_AndTheirBoundsHold()
    {
        await ImportsAndVerifiesAsync(new { algorithm = "crypt", value = "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5" }, "Hello world!");
        await ImportsAndVerifiesAsync(new { algorithm = "ldap", value = "{CRYPT}$6$abc$VFbgfbQyyBHp85p1SnL4wcbNkXLDDKIpsxr/rd6fiF9sXG/q2bVX99kTdfrD95pMbskZfa3v37OToppsklLKj/" }, "päss wörd");
        await ImportsAndVerifiesAsync(new { algorithm = "passlib", value = "$5$rounds=1234$FLf6xuI5$fIz2RVsBzArC9DS7Rrom9eLWmeEUOiONgv2fRuzid46" }, "7a\\M#");
        await ImportsAndVerifiesAsync(new { algorithm = "crypt", value = "$apr1$saltsalt$EGVZDNN6gOqijy.tv9axG/" }, "correct horse");
        await ImportsAndVerifiesAsync(new { algorithm = "ldap", value = "{CRYPT}$1$saltsalt$NuzA7WTAelpl95xgBGWN60" }, "correct horse");
        await ImportsAndVerifiesAsync(new { algorithm = "crypt", value = BCrypt.Net.BCrypt.HashPassword(Password, 4) }, Password);
        await ImportsAndVerifiesAsync(new { algorithm = "crypt", value = "$y$j9T$K6Gq1Z2fuFs9XEJmX0O.H/$L74dWNtJVYuYlJFXUIzAYKVc2ItjwDdMmdXfZBGxNz9" }, "pässwörd ✓");
        await ImportsAndVerifiesAsync(new { algorithm = "ldap", value = "{CRYPT}$7$9/..../....saltstring$vEUcpb6I7QTmoZPN3azZf7fKiaBDE8QPesLHTtpHVK." }, "pleaseletmein");

        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        foreach (var (algorithm, value) in new[]
                 {
                     ("crypt", "$5$rounds=999$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"),
                     ("crypt", "$5$rounds=2000001$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"),
                     ("crypt", "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc"),
                     ("crypt", "$6$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"),
                     ("crypt", "$5$saltstringsaltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"),
                     ("crypt", "$1$saltsaltsalt$NuzA7WTAelpl95xgBGWN60"),
                     // yescrypt: a hash that does not decode, over 128 MiB (N 2^16, r 32), over the work bound (t 31), a ROM, hash
                     // upgrades, a read-write flavour libxcrypt never writes, a salt that does not decode, $7$ over the bounds.
                     ("crypt", "$y$j9T$saltsaltsaltsalt$hashhashhashhashhashhashhashhashhashhashhas"),
                     ("crypt", "$y$jDT$F5Jx5fExrKuPp53xLKQ..1$tnSYvahCwPBHKZUspmcxMfb0.WiB9W.zEaKlOBL35rC"),
                     ("crypt", "$y$j9T/S$F5Jx5fExrKuPp53xLKQ..1$tnSYvahCwPBHKZUspmcxMfb0.WiB9W.zEaKlOBL35rC"),
                     ("crypt", "$y$j9T5.$F5Jx5fExrKuPp53xLKQ..1$tnSYvahCwPBHKZUspmcxMfb0.WiB9W.zEaKlOBL35rC"),
                     ("crypt", "$y$j9T1.$F5Jx5fExrKuPp53xLKQ..1$tnSYvahCwPBHKZUspmcxMfb0.WiB9W.zEaKlOBL35rC"),
                     ("crypt", "$y$i9T$F5Jx5fExrKuPp53xLKQ..1$tnSYvahCwPBHKZUspmcxMfb0.WiB9W.zEaKlOBL35rC"),
                     ("crypt", "$y$j9T$abc$tnSYvahCwPBHKZUspmcxMfb0.WiB9W.zEaKlOBL35rC"),
                     ("crypt", "$7$G6..../....SodiumChloride$6OIeehEnzbyu949sLkdyNyp6EorTTZ52ToM3ucR5RK7"),
                     ("crypt", "abJnggxhB/yWI"),
                     ("ldap", "{CRYPT}abJnggxhB/yWI"),
                 })
        {
            var error = await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users",
                new { email = $"x@{tenant.Slug}.example.com", passwordHash = new { algorithm, value } }), 400, "validation_error");
            Assert.True(error["details"]!.AsObject().ContainsKey("passwordHash"), value);
        }
    }

    [Fact]
    public async Task ABulkImport_CreatesEachValidUserOnItsOwn_AndReportsTheOthersByIndex()
    {
        var tenant = await factory.CreateTenantAsync();
        var other = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        var hashed = $"hashed@{tenant.Slug}.example.com";
        var plain = $"plain@{tenant.Slug}.example.com";
        using var answer = await admin.PostAsJsonAsync($"{tenant.Api}/admin/users/bulk", new
        {
            users = new object?[]
            {
                new { email = hashed, name = "Hashed", locale = "de", passwordHash = new { algorithm = "bcrypt", value = BCrypt.Net.BCrypt.HashPassword(Password, 4) } },
                new { email = plain, password = "a long enough password 1" },
                new { email = hashed.ToUpperInvariant() },
                new { email = "not an address" },
                null,
                new { email = $"weak@{tenant.Slug}.example.com", passwordHash = new { algorithm = "md4", value = "8a9d093f14f8701df17732b2bb182c74" } },
            },
        });
        var body = await ApiAssert.OkAsync(answer);
        Assert.Equal("2 of 6 users created", body["message"]!.GetValue<string>());
        var results = body["data"]!.AsArray();
        Assert.Equal(["created", "created", "error", "error", "error", "error"], results.Select(r => r!["status"]!.GetValue<string>()));
        Assert.Equal(Enumerable.Range(0, 6), results.Select(r => r!["index"]!.GetValue<int>()));
        Assert.Equal("de", results[0]!["user"]!["locale"]!.GetValue<string>());
        Assert.Equal("duplicate_resource", results[2]!["code"]!.GetValue<string>());
        Assert.Equal("validation_error", results[3]!["code"]!.GetValue<string>());
        Assert.True(results[3]!["details"]!.AsObject().ContainsKey("email"));
        Assert.Equal("validation_error", results[4]!["code"]!.GetValue<string>());
        Assert.True(results[5]!["details"]!.AsObject().ContainsKey("passwordHash"));

        Assert.Equal(AuthenticationOutcomes.Success, await OutcomeAsync(tenant, hashed, Password));
        Assert.Equal(AuthenticationOutcomes.Success, await OutcomeAsync(tenant, plain, "a long enough password 1"));
        // Only this tenant got them.
        using var otherAdmin = factory.ClientFor(other);
        Assert.Equal(404, (int)(await otherAdmin.GetAsync($"{other.Api}/admin/users/{hashed}")).StatusCode);

        // Nothing at all, too many, or not a list is refused as a whole.
        var none = await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users/bulk", new { users = Array.Empty<object>() }), 400, "validation_error");
        Assert.True(none["details"]!.AsObject().ContainsKey("users"));
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users/bulk",
            new { users = Enumerable.Range(0, 101).Select(i => new { email = $"u{i}@{tenant.Slug}.example.com" }).ToArray() }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users/bulk", new { users = "everyone" }), 400, "invalid_request");
    }

    [Fact]
    public async Task AMalformedOrUnboundedHash_IsRefused_AndCreatesNoUser()
    {
        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        var salt = Convert.ToBase64String(new byte[16]);
        var key = Convert.ToBase64String(new byte[32]);
        var bcrypt = BCrypt.Net.BCrypt.HashPassword(Password, 4);
        foreach (var passwordHash in new object[]
                 {
                     new { algorithm = "md4", value = "8a9d093f14f8701df17732b2bb182c74" },
                     new { algorithm = "md5", value = "5f4dcc3b5aa765d61d8327deb882cf9" },
                     new { algorithm = "md5", value = "5f4dcc3b5aa765d61d8327deb882cf99", saltPosition = "suffix" },
                     new { algorithm = "sha1", value = key, salt },
                     new { algorithm = "sha256", value = key, salt, saltPosition = "middle" },
                     new { algorithm = "sha256", value = key, iterations = 1000 },
                     new { algorithm = "ldap", value = "{CRYPT}$1$abc" },
                     new { algorithm = "ldap", value = "{SSHA}" + key[..24] },
                     new { algorithm = "scrypt", value = key, salt, cost = 1000, blockSize = 8, parallelism = 1 },
                     new { algorithm = "scrypt", value = key, salt, cost = 1 << 20, blockSize = 8, parallelism = 1 },
                     new { algorithm = "scrypt", value = key, salt, cost = 16384, blockSize = 8, parallelism = 64 },
                     new { algorithm = "scrypt", value = key, salt, cost = 16384, blockSize = 8 },
                     new { algorithm = "firebase-scrypt", value = key, salt, signerKey = key + key, saltSeparator = "Bw==", rounds = 8, memoryCost = 14 },
                     new { algorithm = "firebase-scrypt", value = key, salt, signerKey = key, saltSeparator = "Bw==", rounds = 8, memoryCost = 20 },
                     new { algorithm = "firebase-scrypt", value = key, salt, signerKey = key, rounds = 8, memoryCost = 14 },
                     new { algorithm = "firebase-scrypt", value = key, salt, signerKey = key, saltSeparator = "Bw==", rounds = 8, memoryCost = 14, cost = 16384 },
                     new { algorithm = "bcrypt", value = "$2b$10$tooShort" },
                     new { algorithm = "bcrypt", value = "$2b$31$" + bcrypt[7..] },
                     new { algorithm = "bcrypt", value = bcrypt, salt },
                     new { algorithm = "pbkdf2-sha256", value = key, salt },
                     new { algorithm = "pbkdf2-sha256", value = key, salt, iterations = 0 },
                     new { algorithm = "pbkdf2-sha256", value = key, salt, iterations = 3_000_000 },
                     new { algorithm = "pbkdf2-sha256", value = "not base64!", salt, iterations = 1000 },
                     new { algorithm = "pbkdf2-sha256", value = key, salt = "c2FsdA==", iterations = 1000 },
                     new { value = key },
                     new { algorithm = "argon2", value = "$argon2id$v=19$m=262144,t=3,p=1$" + key.TrimEnd('=') + "$" + key.TrimEnd('=') },
                     new { algorithm = "argon2", value = "$argon2id$v=16$m=7168,t=5,p=1$" + key.TrimEnd('=') + "$" + key.TrimEnd('=') },
                     new { algorithm = "argon2", value = "$argon2id$v=19$m=7168,t=5,p=1$" + key.TrimEnd('='), iterations = 5 },
                     new { algorithm = "django", value = "pbkdf2_sha256$1000$$" + key },
                     new { algorithm = "django", value = "pbkdf2_sha256$many$salty$" + key },
                     new { algorithm = "django", value = "pbkdf2_sha256$3000000$salty$" + key },
                     new { algorithm = "django", value = "unsalted_md5$$5f4dcc3b5aa765d61d8327deb882cf99" },
                     new { algorithm = "django", value = "scrypt$1048576$salty$8$1$" + key },
                     new { algorithm = "django", value = "bcrypt_sha256$$2b$10$tooShort" },
                     new { algorithm = "django", value = "no dollar" },
                     new { algorithm = "django", value = "pbkdf2_sha256$1000$salty$" + key, salt },
                     new { algorithm = "phpass", value = "$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L" },
                     new { algorithm = "phpass", value = "$P$zIQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0" },
                     new { algorithm = "phpass", value = "$P$4IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0" },
                     new { algorithm = "phpass", value = "$Q$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0" },
                     new { algorithm = "wordpress", value = "$S$DAbcdefghfj.R8k15zrrjXR7e3x2tkVgpEz2LKtbneSF3EIWu0lb" },
                     new { algorithm = "wordpress", value = "$wp$2y$31$" + bcrypt[7..] },
                 })
        {
            var error = await ApiAssert.ErrorAsync(
                await admin.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = $"x@{tenant.Slug}.example.com", passwordHash }), 400, "validation_error");
            Assert.True(error["details"]!.AsObject().ContainsKey("passwordHash"), error.ToJsonString());
        }

        var both = await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users",
            new { email = $"x@{tenant.Slug}.example.com", password = Password, passwordHash = new { algorithm = "bcrypt", value = bcrypt } }), 400, "validation_error");
        Assert.True(both["details"]!.AsObject().ContainsKey("passwordHash"), both.ToJsonString());
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users",
            new { email = $"x@{tenant.Slug}.example.com", passwordHash = "$2b$10$abc" }), 400, "invalid_request");
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users",
            new { email = $"x@{tenant.Slug}.example.com", passwordHash = new { algorithm = "bcrypt", value = bcrypt, pepper = "x" } }), 400, "invalid_request");
        Assert.Equal(404, (int)(await admin.GetAsync($"{tenant.Api}/admin/users/x@{tenant.Slug}.example.com")).StatusCode);
    }
}

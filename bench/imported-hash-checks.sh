#!/usr/bin/env bash
# What checking an imported crypt(3) hash costs once, at its owner's first sign-in: our yescrypt (Debian's default,
# $y$j9T$, 16 MiB) and SHA-crypt ($6$, 5,000 rounds) beside libxcrypt's yescrypt through Python's crypt module.
# Single-threaded, ten checks after two warm-ups each. Needs a Release build of the admin service.
#   bench/imported-hash-checks.sh
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
admin="$repo/services/admin/LumoAuth.Admin/bin/Release/net10.0/LumoAuth.Admin.dll"
[[ -f "$admin" ]] || dotnet build -c Release "$repo/services/admin/LumoAuth.Admin" -nologo -v q >/dev/null
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
yescrypt='$y$j9T$F5Jx5fExrKuPp53xLKQ..1$tnSYvahCwPBHKZUspmcxMfb0.WiB9W.zEaKlOBL35rC'
shacrypt='$6$rounds=5000$OjE2jBMptUsGr7Cm$0fDolxPjIaEW6sMLdQOhyfqQTkmVbCKZLFQm8WFL79dCcc2SgAMvIHOAf23ZGFA1ejxKU/DbXO1BqnwKFLHy3.'

# Outside the repository, so its central package management and global.json do not apply to this throwaway program.
cat >"$work/checks.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><ImplicitUsings>enable</ImplicitUsings><Nullable>enable</Nullable></PropertyGroup>
  <ItemGroup><FrameworkReference Include="Microsoft.AspNetCore.App" /><Reference Include="$admin" /></ItemGroup>
</Project>
XML
cat >"$work/Program.cs" <<'CS'
using System.Diagnostics;
using LumoAuth.Admin.Security;

Time("ours, yescrypt j9T", () => Yescrypt.Crypt("password", Yescrypt.Read(args[0])!));
Time("ours, SHA-crypt 5,000 rounds", () => ShaCrypt.Crypt("password", args[1]));

static void Time(string what, Func<string?> check)
{
    check();
    check();
    var clock = Stopwatch.StartNew();
    for (var i = 0; i < 10; i++)
    {
        check();
    }

    Console.WriteLine($"| {what} | {clock.Elapsed.TotalMilliseconds / 10:F1} ms |");
}
CS
echo "| check | time per check |"
echo "|---|---:|"
dotnet run -c Release --project "$work/checks.csproj" -- "$yescrypt" "$shacrypt" 2>/dev/null
python3 -W ignore - "$yescrypt" <<'PY'
import crypt, sys, time
setting = sys.argv[1][:sys.argv[1].rindex("$")]
for _ in range(2): crypt.crypt("password", setting)
start = time.perf_counter()
for _ in range(10): crypt.crypt("password", setting)
print(f"| libxcrypt, yescrypt j9T | {(time.perf_counter() - start) * 100:.1f} ms |")
PY

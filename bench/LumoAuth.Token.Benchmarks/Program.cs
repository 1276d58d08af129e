using BenchmarkDotNet.Running;
using LumoAuth.Token.Benchmarks;

// `http <issuer> <client_id> <client_secret> [connections] [seconds]` drives a running token service;
// `sign-rate [seconds] [algorithms…]` signs on all cores for a fixed time per algorithm;
// anything else goes to BenchmarkDotNet (in-process signing and secret checks, one thread).
if (args.Length > 0 && args[0] == "http")
{
    return await HttpLoad.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "sign-rate")
{
    return SigningRate.Run(args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(TokenSigningBenchmarks).Assembly).Run(args);
return 0;

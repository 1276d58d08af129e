using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(LumoAuth.Authorization.Benchmarks.EngineCheckBenchmarks).Assembly).Run(args);

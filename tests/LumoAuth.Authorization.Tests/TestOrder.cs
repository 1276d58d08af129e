using LumoAuth.Testing;

// The classes marked [RunsLong] start first, so none of them is left running alone at the end of the run.
[assembly: TestCollectionOrderer(LongestFirst.TypeName, LongestFirst.AssemblyName)]

namespace LumoAuth.Authorization.Engine.Checking;

/// <summary>Builds the resolver chain (cache → local) and points the local resolver's sub-checks back at its head.</summary>
public static class CheckResolverChain
{
    public static ICheckResolver Create(CheckCache? cache)
    {
        var local = new LocalCheckResolver();
        ICheckResolver head = cache is null ? local : new CachingCheckResolver(cache, local);
        local.Dispatcher = head;
        return head;
    }
}

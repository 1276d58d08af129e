using LumoAuth.Authorization.Consistency;
using LumoAuth.Authorization.Schemas;
using LumoAuth.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Authorization.Tests;

/// <summary>A schema-less tenant's permissive model is reused across writes and rebuilt only when its tuple shapes change.</summary>
public sealed class TenantModelCacheTests(AuthorizationSuite suite) : IClassFixture<AuthorizationSuite>
{
    [Fact]
    public async Task PermissiveModel_IsReusedUntilTheShapesOrTheSchemaChange()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        var models = suite.Authorization.Services.GetRequiredService<TenantModels>();

        var first = await ModelAfterAsync(models, tenant, await client.WriteAsync(tenant, "document:1", "viewer", "user:ann"));
        Assert.True(first.IsPermissive);
        var sameShape = await ModelAfterAsync(models, tenant, await client.WriteAsync(tenant, "document:2", "viewer", "user:bob"));
        Assert.Same(first.Model, sameShape.Model);

        var newShape = await ModelAfterAsync(models, tenant, await client.WriteAsync(tenant, "document:2", "owner", "user:bob"));
        Assert.NotSame(first.Model, newShape.Model);
        Assert.Equal(["owner", "viewer"], RelationsOf(newShape, "document"));
        Assert.True(await client.AllowedAsync(tenant, "document:2", "owner", "user:bob"));

        // Deleting one of two viewer tuples keeps the shape; deleting the only owner tuple drops it.
        var stillViewer = await ModelAfterAsync(models, tenant, await ApiAssert.OkAsync(await client.DeleteAsync(tenant, "document:1", "viewer", "user:ann")));
        Assert.Same(newShape.Model, stillViewer.Model);
        var noOwner = await ModelAfterAsync(models, tenant, await ApiAssert.OkAsync(await client.DeleteAsync(tenant, "document:2", "owner", "user:bob")));
        Assert.Equal(["viewer"], RelationsOf(noOwner, "document"));
        Assert.Equal(first.Model.Id, noOwner.Model.Id);

        var schema = await ModelAfterAsync(models, tenant, await client.PutSchemaAsync(tenant, ZanzibarHttp.DocumentsSchema));
        Assert.False(schema.IsPermissive);
        Assert.Equal(1, schema.Version);
        var afterSchema = await ModelAfterAsync(models, tenant, await client.WriteAsync(tenant, "document:3", "editor", "user:cy"));
        Assert.Same(schema.Model, afterSchema.Model);
        Assert.True(await client.AllowedAsync(tenant, "document:3", "viewer", "user:cy"));
    }

    private static async Task<TenantModel> ModelAfterAsync(TenantModels models, TestTenant tenant, System.Text.Json.Nodes.JsonObject written)
    {
        var token = written["data"]?["consistency_token"]?.GetValue<string>() ?? written["consistency_token"]!.GetValue<string>();
        Assert.True(ConsistencyToken.TryParse(token, out _, out var revision));
        var model = await models.GetAsync(tenant.Id, revision, CancellationToken.None);
        Assert.True(model.LoadedAtRevision >= revision);
        return model;
    }

    private static List<string> RelationsOf(TenantModel model, string type) =>
        [.. model.Model.Types.Single(t => t.Name == type).Relations.Select(r => r.Name).Order(StringComparer.Ordinal)];
}

namespace LumoAuth.ServiceDefaults;

/// <summary>Aspire resource names, shared by the AppHost and the services (service discovery uses them).</summary>
public static class ServiceNames
{
    public const string Token = "token";
    public const string Authorization = "authorization";
    public const string Agents = "agents";
    public const string Federation = "federation";
    public const string Admin = "admin";
    public const string Gateway = "gateway";

    public const string Postgres = "postgres";
    public const string Redis = "redis";
    public const string RabbitMq = "rabbitmq";

    public const string TokenDb = "tokendb";
    public const string AuthorizationDb = "authzdb";
    public const string AgentsDb = "agentsdb";
    public const string FederationDb = "federationdb";
    public const string AdminDb = "admindb";
}

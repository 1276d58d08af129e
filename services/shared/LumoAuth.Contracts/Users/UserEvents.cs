namespace LumoAuth.Contracts.Users;

public sealed record UserCreated(Guid UserId, string Email, bool IsAdmin) : IntegrationEvent;

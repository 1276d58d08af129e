namespace LumoAuth.Contracts.Authorization;

public sealed record RelationshipTuple(string Object, string Relation, string Subject);

public sealed record RelationshipsWritten(IReadOnlyList<RelationshipTuple> Tuples, long Revision) : IntegrationEvent;

public sealed record RelationshipsDeleted(IReadOnlyList<RelationshipTuple> Tuples, long Revision) : IntegrationEvent;

using LumoAuth.Authorization.Data;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Authorization.Features.Relationships;

/// <summary>
/// Answers a check from stored tuples alone: a direct tuple, a public wildcard (<c>type:*</c>), or
/// membership through usersets (<c>group:eng#member</c>), breadth-first with a depth and visit bound so
/// cyclic data terminates. Schema rewrites (computed relations, tuple-to-userset) come with the engine.
/// </summary>
public static class DirectChecker
{
    private const int MaxDepth = 8;
    private const int MaxVisited = 2_000;

    public sealed record Result(bool Allowed, IReadOnlyList<string> Path);

    public static async Task<Result> CheckAsync(AuthorizationDbContext db, Relationship query, CancellationToken cancellationToken)
    {
        // Each frontier entry is a userset (object#relation) with the chain of tuples that led to it.
        var frontier = new List<(EntityRef Object, string Relation, IReadOnlyList<string> Path)> { (query.Object, query.Relation, []) };
        var visited = new HashSet<string>(StringComparer.Ordinal) { $"{query.Object}#{query.Relation}" };
        var subject = query.Subject;

        for (var depth = 0; depth < MaxDepth && frontier.Count > 0; depth++)
        {
            var next = new List<(EntityRef, string, IReadOnlyList<string>)>();
            foreach (var (obj, relation, path) in frontier)
            {
                var tuples = await db.Tuples.AsNoTracking()
                    .Where(t => t.ObjectType == obj.Type && t.ObjectId == obj.Id && t.Relation == relation)
                    .Select(t => new { t.SubjectType, t.SubjectId, t.SubjectRelation })
                    .Take(MaxVisited)
                    .ToListAsync(cancellationToken);
                foreach (var t in tuples)
                {
                    var step = $"{obj}#{relation}@{new EntityRef(t.SubjectType, t.SubjectId, t.SubjectRelation)}";
                    var isMatch = t.SubjectType == subject.Type && t.SubjectRelation == subject.Relation
                                  && (t.SubjectId == subject.Id || (t.SubjectId == "*" && subject.Relation.Length == 0));
                    if (isMatch)
                    {
                        return new Result(true, [.. path, step]);
                    }

                    if (t.SubjectRelation.Length > 0 && visited.Count < MaxVisited
                        && visited.Add($"{t.SubjectType}:{t.SubjectId}#{t.SubjectRelation}"))
                    {
                        next.Add((new EntityRef(t.SubjectType, t.SubjectId), t.SubjectRelation, [.. path, step]));
                    }
                }
            }

            frontier = next;
        }

        return new Result(false, []);
    }
}

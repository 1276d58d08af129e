namespace LumoAuth.Authorization.Engine.Model;

/// <summary>A relation (or permission) of a type and the rewrite that computes it.</summary>
public sealed class RelationDefinition
{
    public RelationDefinition(string name, Rewrite rewrite)
    {
        Name = name;
        Rewrite = rewrite;
        DirectSubjects = CollectDirectSubjects(rewrite);
    }

    public string Name { get; }

    public Rewrite Rewrite { get; }

    /// <summary>Every subject shape that may be written directly for this relation.</summary>
    public IReadOnlyList<AllowedSubject> DirectSubjects { get; }

    /// <summary>Whether a stored tuple fits this relation's type restrictions (shape and condition).</summary>
    public bool Allows(SubjectRef subject, string? conditionName) =>
        DirectSubjects.Any(allowed => allowed.MatchesShape(subject) && allowed.Condition == conditionName);

    private static List<AllowedSubject> CollectDirectSubjects(Rewrite rewrite)
    {
        var subjects = new List<AllowedSubject>();
        Collect(rewrite, subjects);
        return subjects;

        static void Collect(Rewrite node, List<AllowedSubject> into)
        {
            switch (node)
            {
                case DirectRewrite direct:
                    into.AddRange(direct.AllowedSubjects);
                    break;
                case UnionRewrite union:
                    union.Children.ToList().ForEach(child => Collect(child, into));
                    break;
                case IntersectionRewrite intersection:
                    intersection.Children.ToList().ForEach(child => Collect(child, into));
                    break;
                case ExclusionRewrite exclusion:
                    Collect(exclusion.Base, into);
                    Collect(exclusion.Subtract, into);
                    break;
            }
        }
    }
}

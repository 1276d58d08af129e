namespace LumoAuth.Authorization.Engine.Schema;

internal enum DslTokenKind
{
    Word,
    Colon,
    Comma,
    Hash,
    Star,
    OpenBracket,
    CloseBracket,
    OpenParen,
    CloseParen,
    OpenBrace,
    CloseBrace,
    Less,
    Greater,
    NewLine,
    End,
    Unexpected,
}

internal readonly record struct DslToken(DslTokenKind Kind, string Text, SourcePosition Position)
{
    public bool IsWord(string word) => Kind == DslTokenKind.Word && Text == word;

    public string Describe() => Kind switch
    {
        DslTokenKind.NewLine => "end of line",
        DslTokenKind.End => "end of schema",
        _ => $"'{Text}'",
    };
}

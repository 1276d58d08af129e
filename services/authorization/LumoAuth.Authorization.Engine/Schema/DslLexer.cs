namespace LumoAuth.Authorization.Engine.Schema;

/// <summary>
/// A pull lexer for the OpenFGA DSL. Line breaks are tokens (a definition ends at the end of its line)
/// except inside brackets and parentheses. <c>#</c> starts a comment only at the start of a line or after
/// whitespace, so <c>group#member</c> stays a userset.
/// </summary>
internal sealed class DslLexer(string text)
{
    private int _index;
    private int _line = 1;
    private int _column = 1;
    private int _nesting;
    private DslToken? _peeked;

    public DslToken Peek() => _peeked ??= Read();

    public DslToken Next()
    {
        var token = Peek();
        _peeked = null;
        return token;
    }

    /// <summary>
    /// Reads a condition body verbatim up to the brace that closes it (nested braces and string
    /// literals respected). Call right after consuming the opening brace.
    /// </summary>
    public (string Body, SourcePosition Start, bool Closed) ReadBlockBody()
    {
        if (_peeked is not null)
        {
            throw new InvalidOperationException("A token was peeked past the opening brace.");
        }

        var start = Position;
        var builder = new System.Text.StringBuilder();
        var depth = 0;
        char? quote = null;
        while (_index < text.Length)
        {
            var c = text[_index];
            if (quote is not null)
            {
                if (c == '\\' && _index + 1 < text.Length)
                {
                    builder.Append(c);
                    Advance();
                    c = text[_index];
                }
                else if (c == quote)
                {
                    quote = null;
                }
            }
            else if (c is '"' or '\'')
            {
                quote = c;
            }
            else if (c == '{')
            {
                depth++;
            }
            else if (c == '}')
            {
                if (depth == 0)
                {
                    Advance();
                    return (builder.ToString().Trim(), start, true);
                }

                depth--;
            }

            builder.Append(c);
            Advance();
        }

        return (builder.ToString().Trim(), start, false);
    }

    private SourcePosition Position => new(_line, _column);

    private DslToken Read()
    {
        while (_index < text.Length)
        {
            var c = text[_index];
            if (c == '\n')
            {
                var position = Position;
                Advance();
                if (_nesting == 0)
                {
                    return new DslToken(DslTokenKind.NewLine, "\n", position);
                }
            }
            else if (char.IsWhiteSpace(c))
            {
                Advance();
            }
            else if (c == '#' && (_index == 0 || char.IsWhiteSpace(text[_index - 1])))
            {
                while (_index < text.Length && text[_index] != '\n')
                {
                    Advance();
                }
            }
            else
            {
                return ReadToken();
            }
        }

        return new DslToken(DslTokenKind.End, string.Empty, Position);
    }

    private DslToken ReadToken()
    {
        var position = Position;
        var c = text[_index];
        if (IsWordChar(c))
        {
            var start = _index;
            while (_index < text.Length && IsWordChar(text[_index]))
            {
                Advance();
            }

            return new DslToken(DslTokenKind.Word, text[start.._index], position);
        }

        Advance();
        var kind = c switch
        {
            ':' => DslTokenKind.Colon,
            ',' => DslTokenKind.Comma,
            '#' => DslTokenKind.Hash,
            '*' => DslTokenKind.Star,
            '[' => DslTokenKind.OpenBracket,
            ']' => DslTokenKind.CloseBracket,
            '(' => DslTokenKind.OpenParen,
            ')' => DslTokenKind.CloseParen,
            '{' => DslTokenKind.OpenBrace,
            '}' => DslTokenKind.CloseBrace,
            '<' => DslTokenKind.Less,
            '>' => DslTokenKind.Greater,
            _ => DslTokenKind.Unexpected,
        };
        if (kind is DslTokenKind.OpenBracket or DslTokenKind.OpenParen)
        {
            _nesting++;
        }
        else if (kind is DslTokenKind.CloseBracket or DslTokenKind.CloseParen && _nesting > 0)
        {
            _nesting--;
        }

        return new DslToken(kind, c.ToString(), position);
    }

    private static bool IsWordChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or '/';

    private void Advance()
    {
        if (text[_index] == '\n')
        {
            _line++;
            _column = 1;
        }
        else if (text[_index] != '\r')
        {
            _column++;
        }

        _index++;
    }
}

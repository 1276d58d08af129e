using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace LumoAuth.Testing;

/// <summary>
/// An authoritative DNS server on a loopback UDP port, answering from records a test publishes (A, AAAA, CNAME, TXT):
/// custom-domain verification asks real DNS over the wire, only of a zone the test controls. A name without records is
/// NXDOMAIN; a name with records of other types answers NOERROR with no answer.
/// </summary>
public sealed class TestDnsServer : IDisposable
{
    private const ushort TypeA = 1, TypeCname = 5, TypeTxt = 16, TypeAaaa = 28;

    private readonly UdpClient _socket = new(new IPEndPoint(IPAddress.Loopback, 0));
    private readonly ConcurrentDictionary<string, ConcurrentBag<(ushort Type, byte[] Data)>> _records = new(StringComparer.OrdinalIgnoreCase);
    private readonly CancellationTokenSource _stop = new();

    public TestDnsServer() => _ = ServeAsync();

    /// <summary>Where resolvers reach it, as <c>ip:port</c>.</summary>
    public string Endpoint => ((IPEndPoint)_socket.Client.LocalEndPoint!).ToString();

    public void AddA(string name, IPAddress address) =>
        Add(name, address.AddressFamily == AddressFamily.InterNetworkV6 ? TypeAaaa : TypeA, address.GetAddressBytes());

    public void AddCname(string name, string target) => Add(name, TypeCname, EncodeName(target));

    public void AddTxt(string name, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        Add(name, TypeTxt, [(byte)bytes.Length, .. bytes]);
    }

    /// <summary>Publishes a domain's <c>dnsRecords</c> as the API lists them (TXT and CNAME), or only the kinds asked for.</summary>
    public void Publish(System.Text.Json.Nodes.JsonNode dnsRecords, bool txt = true, bool cname = true)
    {
        foreach (var record in dnsRecords.AsArray())
        {
            var (type, name, value) = (record!["type"]!.GetValue<string>(), record["name"]!.GetValue<string>(), record["value"]!.GetValue<string>());
            if (type == "TXT" && txt)
            {
                AddTxt(name, value);
            }
            else if (type == "CNAME" && cname)
            {
                AddCname(name, value);
            }
        }
    }

    public void Clear(string name) => _records.TryRemove(Normalize(name), out _);

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
    }

    private void Add(string name, ushort type, byte[] data) => _records.GetOrAdd(Normalize(name), _ => []).Add((type, data));

    private static string Normalize(string name) => name.TrimEnd('.').ToLowerInvariant();

    private async Task ServeAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            UdpReceiveResult query;
            try
            {
                query = await _socket.ReceiveAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }

            if (Answer(query.Buffer) is { } response)
            {
                await _socket.SendAsync(response, query.RemoteEndPoint);
            }
        }
    }

    private byte[]? Answer(byte[] query)
    {
        if (query.Length < 12 || BinaryPrimitives.ReadUInt16BigEndian(query.AsSpan(4)) < 1)
        {
            return null;
        }

        // The first question: a name of labels, then type and class.
        var offset = 12;
        var labels = new List<string>();
        while (offset < query.Length && query[offset] != 0)
        {
            int length = query[offset];
            labels.Add(Encoding.ASCII.GetString(query, offset + 1, length));
            offset += length + 1;
        }

        var questionEnd = offset + 5;
        if (questionEnd > query.Length)
        {
            return null;
        }

        var type = BinaryPrimitives.ReadUInt16BigEndian(query.AsSpan(offset + 1));
        var known = _records.TryGetValue(Normalize(string.Join('.', labels)), out var records);
        var answers = known ? records!.Where(r => r.Type == type).ToList() : [];

        using var response = new MemoryStream();
        response.Write(query.AsSpan(0, 2));
        var flags = (ushort)(0x8400 | (query[2] & 0x01) << 8 | 0x0080 | (known ? 0 : 3));
        Write16(response, flags);
        Write16(response, 1);
        Write16(response, (ushort)answers.Count);
        Write16(response, 0);
        Write16(response, 0);
        response.Write(query.AsSpan(12, questionEnd - 12));
        foreach (var (recordType, data) in answers)
        {
            Write16(response, 0xC00C);
            Write16(response, recordType);
            Write16(response, 1);
            Write16(response, 0);
            Write16(response, 0);
            Write16(response, (ushort)data.Length);
            response.Write(data);
        }

        return response.ToArray();
    }

    private static void Write16(Stream stream, ushort value)
    {
        Span<byte> bytes = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(bytes, value);
        stream.Write(bytes);
    }

    private static byte[] EncodeName(string name)
    {
        var bytes = new List<byte>();
        foreach (var label in Normalize(name).Split('.'))
        {
            bytes.Add((byte)label.Length);
            bytes.AddRange(Encoding.ASCII.GetBytes(label));
        }

        bytes.Add(0);
        return [.. bytes];
    }
}

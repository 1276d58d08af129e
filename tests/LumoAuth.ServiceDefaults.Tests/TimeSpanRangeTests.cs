using System.ComponentModel.DataAnnotations;
using LumoAuth.ServiceDefaults.Hosting;

namespace LumoAuth.ServiceDefaults.Tests;

/// <summary>Settings' time bounds, checked by many hosts at once without the framework attribute's first-use race.</summary>
public sealed class TimeSpanRangeTests
{
    private sealed class Settings
    {
        [TimeSpanRange("00:00:00.100", "00:01:00")]
        public TimeSpan Timeout { get; set; }
    }

    [Theory]
    [InlineData(100, true)]
    [InlineData(60_000, true)]
    [InlineData(99, false)]
    [InlineData(60_001, false)]
    public void ABound_IsInclusive(int milliseconds, bool valid)
    {
        var settings = new Settings { Timeout = TimeSpan.FromMilliseconds(milliseconds) };
        var results = new List<ValidationResult>();
        Assert.Equal(valid, Validator.TryValidateObject(settings, new ValidationContext(settings), results, validateAllProperties: true));
        if (!valid)
        {
            Assert.Equal("The field Timeout must be between 00:00:00.1000000 and 00:01:00.", Assert.Single(results).ErrorMessage);
        }
    }

    [Fact]
    public void OneAttribute_ChecksFromManyThreadsAtOnce()
    {
        var attribute = new TimeSpanRangeAttribute("00:00:01", "01:00:00");
        using var start = new Barrier(8);
        var wrong = 0;
        var threads = Enumerable.Range(0, 8).Select(_ => new Thread(() =>
        {
            start.SignalAndWait();
            for (var i = 0; i < 1_000; i++)
            {
                if (!attribute.IsValid(TimeSpan.FromMinutes(1)) || attribute.IsValid(TimeSpan.FromHours(2)))
                {
                    Interlocked.Increment(ref wrong);
                }
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Equal(0, wrong);
    }
}

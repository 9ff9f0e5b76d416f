import CandorDelivery
import Foundation
import Testing

@Suite("Retry schedule")
struct RetryScheduleTests {
    let schedule = RetrySchedule(baseDelay: .seconds(5), maxDelay: .seconds(3600), maxAttempts: 8)

    @Test("Delays double per attempt, with up to half taken off at random, and never exceed the cap")
    func exponentialWithJitter() {
        // Without jitter (random 0) the delay is base × 2^(attempt−1); with the most jitter, half of it.
        #expect(schedule.delay(afterAttempt: 1, random: 0) == .seconds(5))
        #expect(schedule.delay(afterAttempt: 2, random: 0) == .seconds(10))
        #expect(schedule.delay(afterAttempt: 4, random: 0) == .seconds(40))
        #expect(schedule.delay(afterAttempt: 4, random: 0.999_999) >= .seconds(20))
        #expect(schedule.delay(afterAttempt: 4, random: 0.5) == .seconds(30))
        #expect(schedule.delay(afterAttempt: 30, random: 0) == .seconds(3600))
        for attempt in 1...12 {
            let delay = schedule.delay(afterAttempt: attempt)
            let ceiling = min(3600.0, 5 * pow(2, Double(attempt - 1)))
            #expect(delay >= .milliseconds(Int64(ceiling * 500)) && delay <= .milliseconds(Int64(ceiling * 1000)))
        }
    }

    @Test("The last attempt is followed by nothing: the event becomes a dead letter")
    func maxAttempts() {
        #expect(schedule.retries(afterAttempt: 7))
        #expect(!schedule.retries(afterAttempt: 8))
        #expect(!RetrySchedule(maxAttempts: 1).retries(afterAttempt: 1))
    }

    @Test("Retry-After is read as seconds or as an HTTP date, capped, and ignored when unreadable")
    func retryAfter() {
        let now = Date(timeIntervalSince1970: 1_445_412_480)  // Wed, 21 Oct 2015 07:28:00 GMT
        #expect(schedule.retryAfter("120", now: now) == .seconds(120))
        #expect(schedule.retryAfter(" 0 ", now: now) == .seconds(0))
        #expect(schedule.retryAfter("Wed, 21 Oct 2015 07:30:00 GMT", now: now) == .seconds(120))
        #expect(schedule.retryAfter("Wednesday, 21-Oct-15 07:29:00 GMT", now: now) == .seconds(60))
        #expect(schedule.retryAfter("Wed Oct 21 07:28:30 2015", now: now) == .seconds(30))
        #expect(schedule.retryAfter("Tue, 20 Oct 2015 07:28:00 GMT", now: now) == .seconds(0), "a date in the past: now")
        #expect(schedule.retryAfter("999999", now: now) == .seconds(3600), "capped at the longest delay")
        #expect(schedule.retryAfter("soon", now: now) == nil)
        #expect(schedule.retryAfter("-5", now: now) == nil)
        #expect(schedule.retryAfter(nil, now: now) == nil)
    }
}

#include "time.hpp"

#include "error.hpp"

#include <cstdio>
#include <cstring>

namespace saml {

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's civil algorithm).
long long days_from_civil(long long y, unsigned m, unsigned d) {
    y -= m <= 2;
    const long long era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<long long>(doe) - 719468;
}

struct Reader {
    std::string_view text;
    std::size_t pos = 0;
    const char* what;

    [[noreturn]] void bad() const {
        fail(ErrorKind::BadInput, "SAML0113", "datetime", std::string(what) + " is not an xs:dateTime");
    }
    unsigned digits(std::size_t count) {
        if (pos + count > text.size()) bad();
        unsigned value = 0;
        for (std::size_t i = 0; i < count; ++i) {
            const char c = text[pos++];
            if (c < '0' || c > '9') bad();
            value = value * 10 + static_cast<unsigned>(c - '0');
        }
        return value;
    }
    void expect(char c) {
        if (pos >= text.size() || text[pos] != c) bad();
        ++pos;
    }
    bool at(char c) const { return pos < text.size() && text[pos] == c; }
};

}  // namespace

Instant parse_datetime(std::string_view text, const char* what) {
    Reader r{text, 0, what};
    const unsigned year = r.digits(4);
    r.expect('-');
    const unsigned month = r.digits(2);
    r.expect('-');
    const unsigned day = r.digits(2);
    r.expect('T');
    const unsigned hour = r.digits(2);
    r.expect(':');
    const unsigned minute = r.digits(2);
    r.expect(':');
    const unsigned second = r.digits(2);
    long long micros = 0;
    if (r.at('.')) {
        ++r.pos;
        std::size_t count = 0;
        long long scale = 100000;
        while (r.pos < text.size() && text[r.pos] >= '0' && text[r.pos] <= '9') {
            if (count < 6) micros += (text[r.pos] - '0') * scale;
            scale /= 10;
            ++count;
            ++r.pos;
            if (count > 12) r.bad();
        }
        if (count == 0) r.bad();
    }
    long long offset_seconds = 0;
    if (r.at('Z')) {
        ++r.pos;
    } else if (r.at('+') || r.at('-')) {
        const int sign = text[r.pos] == '-' ? -1 : 1;
        ++r.pos;
        const unsigned oh = r.digits(2);
        r.expect(':');
        const unsigned om = r.digits(2);
        if (oh > 14 || om > 59) r.bad();
        offset_seconds = sign * static_cast<long long>(oh * 3600 + om * 60);
    }
    if (r.pos != text.size()) r.bad();
    static constexpr unsigned kDaysIn[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (year < 1970 || month < 1 || month > 12 || day < 1 || day > kDaysIn[month - 1] || hour > 24 ||
        minute > 59 || second > 60 || (hour == 24 && (minute != 0 || second != 0)))
        r.bad();
    long long seconds = days_from_civil(year, month, day) * 86400 + hour * 3600LL + minute * 60LL + second -
                        offset_seconds;
    // The clock counts nanoseconds, which end in 2262; metadata likes validUntil="9999-12-31".
    // Anything past 2200 means "far in the future" and is read as 2200-01-01.
    constexpr long long kFarFuture = 7258118400;  // 2200-01-01T00:00:00Z
    if (seconds >= kFarFuture) {
        seconds = kFarFuture;
        micros = 0;
    }
    return Instant(std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(seconds) +
                                                               std::chrono::microseconds(micros)));
}

std::string format_datetime(Instant instant) {
    const long long seconds = to_unix(instant);
    long long days = seconds / 86400;
    long long rem = seconds % 86400;
    if (rem < 0) {
        rem += 86400;
        --days;
    }
    // Inverse of days_from_civil.
    days += 719468;
    const long long era = (days >= 0 ? days : days - 146096) / 146097;
    const unsigned doe = static_cast<unsigned>(days - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    const long long y = static_cast<long long>(yoe) + era * 400 + (m <= 2);
    char buffer[32];
    if (y < 0 || y > 9999) {
        std::snprintf(buffer, sizeof buffer, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ", y, m, d, rem / 3600,
                      rem / 60 % 60, rem % 60);
        return buffer;
    }
    // Digits by hand: this runs for every request that exports a session (SAML_AUTHN_INSTANT).
    auto two = [](char* at, long long value) {
        at[0] = static_cast<char>('0' + value / 10);
        at[1] = static_cast<char>('0' + value % 10);
    };
    std::memcpy(buffer, "0000-00-00T00:00:00Z", 21);
    two(buffer, y / 100);
    two(buffer + 2, y % 100);
    two(buffer + 5, m);
    two(buffer + 8, d);
    two(buffer + 11, rem / 3600);
    two(buffer + 14, rem / 60 % 60);
    two(buffer + 17, rem % 60);
    return std::string(buffer, 20);
}

}  // namespace saml

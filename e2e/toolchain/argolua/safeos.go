package main

// The `os` Argo CD gives resource customizations: only time and date, as in util/lua/oslib_safe.go of
// github.com/argoproj/argo-cd/v3@v3.6.2 (itself taken from gopher-lua's oslib), whose behaviour this follows,
// quirks included (%a prints "mon", a time argument to os.date is local time even after "!"). The clock is a
// parameter here; Argo CD reads time.Now.

import (
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

func safeOsFuncs(clock func() time.Time) map[string]lua.LGFunction {
	return map[string]lua.LGFunction{
		"time": func(l *lua.LState) int { return osTime(l, clock) },
		"date": func(l *lua.LState) int { return osDate(l, clock) },
	}
}

// openSafeOs is Argo CD's OpenSafeOs: it registers `time` and `date` into the global `table` (lua.TabLibName, as
// Argo CD does), not into a global `os`, which is why a script's global `os` is nil; safeOsLoader answers
// require("os") (SafeOsLoader), the one way a script reaches os.time and os.date.
func openSafeOs(clock func() time.Time) lua.LGFunction {
	return func(l *lua.LState) int {
		l.Push(l.RegisterModule(lua.TabLibName, safeOsFuncs(clock)))
		return 1
	}
}

func safeOsLoader(clock func() time.Time) lua.LGFunction {
	return func(l *lua.LState) int {
		l.Push(l.SetFuncs(l.NewTable(), safeOsFuncs(clock)))
		return 1
	}
}

func osTime(l *lua.LState, clock func() time.Time) int {
	if l.GetTop() == 0 {
		l.Push(lua.LNumber(clock().Unix()))
		return 1
	}
	fields := l.CheckTable(1)
	number := func(key string, otherwise int) int {
		if n, ok := fields.RawGetString(key).(lua.LNumber); ok {
			return int(n)
		}
		return otherwise
	}
	t := time.Date(number("year", -1), time.Month(number("month", -1)), number("day", -1),
		number("hour", 12), number("min", 0), number("sec", 0), 0, time.Local)
	l.Push(lua.LNumber(t.Unix()))
	return 1
}

func osDate(l *lua.LState, clock func() time.Time) int {
	t := clock().In(time.Local)
	format := "%c"
	if l.GetTop() >= 1 {
		format = l.CheckString(1)
		if strings.HasPrefix(format, "!") {
			t = clock().UTC()
			format = strings.TrimLeft(format, "!")
		}
		if l.GetTop() >= 2 {
			t = time.Unix(l.CheckInt64(2), 0)
		}
		if strings.HasPrefix(format, "*t") {
			table := l.NewTable()
			for key, value := range map[string]int{
				"year": t.Year(), "month": int(t.Month()), "day": t.Day(), "hour": t.Hour(), "min": t.Minute(),
				"sec": t.Second(), "wday": int(t.Weekday()) + 1, "yday": 0,
			} {
				table.RawSetString(key, lua.LNumber(value))
			}
			table.RawSetString("isdst", lua.LFalse)
			l.Push(table)
			return 1
		}
	}
	l.Push(lua.LString(strftime(t, format)))
	return 1
}

// The conversions oslib_safe.go knows, as Go layouts; %w is the weekday number; any other is printed as written.
var strftimeLayouts = map[byte]string{
	'a': "mon", 'A': "Monday", 'b': "Jan", 'B': "January", 'c': "02 Jan 06 15:04 MST", 'd': "02",
	'F': "2006-01-02", 'H': "15", 'I': "03", 'm': "01", 'M': "04", 'p': "PM", 'P': "pm", 'S': "05",
	'x': "15/04/05", 'X': "15:04:05", 'y': "06", 'Y': "2006", 'z': "-0700", 'Z': "MST",
}

// strftime reads the format as oslib_safe.go's flag scanner does: "%%" is "%", a "%" ending the format stays.
func strftime(t time.Time, format string) string {
	var out strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i == len(format)-1 {
			out.WriteByte(c)
			continue
		}
		i++
		flag := format[i]
		switch layout, known := strftimeLayouts[flag]; {
		case flag == '%':
			out.WriteByte('%')
		case known:
			out.WriteString(t.Format(layout))
		case flag == 'w':
			out.WriteString(strconv.Itoa(int(t.Weekday())))
		default:
			out.WriteByte('%')
			out.WriteByte(flag)
		}
	}
	return out.String()
}

"""One date and time format for every page, with the time zone spelled out.

Staff in several countries read the same pages; "2026-11-30 14:05 UTC" cannot be misread,
unlike "Nov. 30, 2026, 2:05 p.m." (Django's English default) or a time with no zone. TIME_ZONE
is UTC, so "T" prints "UTC". Used by `{{ value|date:"DATETIME_FORMAT" }}`, the admin's list
columns and read-only fields, and `nectar_portal.display.when` for text built in Python.
"""

DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
TIME_FORMAT = "H:i"
MONTH_DAY_FORMAT = "F j"
YEAR_MONTH_FORMAT = "F Y"
FIRST_DAY_OF_WEEK = 1  # Monday

"""Regenerate students.xls (needs xlwt, which the project does not depend on): python make_students_xls.py"""
import datetime
from pathlib import Path

import xlwt

HEADERS = ["SSID", "Local Student ID", "Last_Name", "FIRST NAME", "Birthdate", "Notes"]
ROWS = [
    ["0012345", "0001", "José", "Ana", "20100102", "fine – really"],
    ["0099999", "", "O’Brien", "Zoë", "02/01/2010", ""],
    ["1234567", "42", "Nguyen", "", "", "x"],
]

book = xlwt.Workbook(encoding="utf-8")
students = book.add_sheet("Students")
for r, row in enumerate([HEADERS, *ROWS]):
    for c, value in enumerate(row):
        students.write(r, c, value)
typed = book.add_sheet("Typed")
for c, value in enumerate(["SSID", "Birthdate", "Score", "Flag", "Note"]):
    typed.write(0, c, value)
typed.write(1, 0, 123.0)
typed.write(1, 1, datetime.date(2010, 1, 2), xlwt.easyxf(num_format_str="YYYY-MM-DD"))
typed.write(1, 2, 4.05)
typed.write(1, 3, True)
typed.write(1, 4, "  padded  ")
typed.write(3, 0, 7.0)  # row 3 left empty
book.save(str(Path(__file__).with_name("students.xls")))

"""Floor 3, a file into rows: CSV, XLSX and XLS in chunks, header aliases, row and file errors."""

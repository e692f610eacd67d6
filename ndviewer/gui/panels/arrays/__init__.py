"""The generic array view: any dataset as a paged spreadsheet, a line or an image."""

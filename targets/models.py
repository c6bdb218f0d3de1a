# Target-group records and the spreadsheet upload come with their own issue.

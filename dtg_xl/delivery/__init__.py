"""What people receive: the blank template, the email-safe export, the report, charts, mail drafts and Chinese
number formats. May import results, units, core and xlsx; never the doors."""

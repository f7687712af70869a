"""The one base class for problems a user can fix (bad input, a missing font, a locked file).

Every module's own error derives from it, so each door catches one class: the CLI prints the
message and exits 2, the Excel door writes it to the status cell.  Messages are Chinese.
"""


class DtgError(ValueError):
    pass

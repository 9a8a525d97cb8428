"""The cases of the suite; each module maps case names to functions ``(Context) -> CaseResult``."""

"""Development-only tools, apart from production code: nothing in ajo, groups or contributions
imports this package (tests excepted)."""

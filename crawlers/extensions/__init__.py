"""Extensions: the run report (and progress lines)."""

"""The evaluation harness: protocols that work from an exported encoder alone (never from
`methods/`), fixed subject-level splits, seeds, bootstrap intervals, one JSON record each."""

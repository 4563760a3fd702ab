"""The review day: the run's review page and its thumbnails, the run summary, and applying the
reviewers' picks (validate, publish, record them for the next nights)."""

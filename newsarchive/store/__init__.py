"""The archive on disk: output layout, WARC record reading, CDXJ index, cross-run state, run lock,
recovery, repair and verify."""

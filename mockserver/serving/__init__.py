"""Running the mock: the command line, granian, and the data prepared in a child process."""

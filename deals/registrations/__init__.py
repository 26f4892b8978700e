"""Deal registrations: the lifecycle writes (services), input rules (validation), extensions,
comments and activity (collaboration), the index entry (indexing), periodic sweeps, the
tenant-scoped reads (selectors) and the live availability check."""

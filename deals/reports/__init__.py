"""Reports: filters, summary, percentiles, weekly series, breakdowns, CSV export, the rollup
cells kept by triggers, charts, and the dashboard/scorecard pages."""

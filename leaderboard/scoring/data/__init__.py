"""Package data of the scoring package: the paper's reported results (paper_results.csv).

A package (not a plain folder) so that wheels ship the CSV under the "*.csv" package-data rule.
"""

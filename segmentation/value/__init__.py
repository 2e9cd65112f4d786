"""Customer value and churn risk from the cleaned purchases: BG/NBD for purchase counts, Gamma-Gamma for
spend per purchase, maximum likelihood with SciPy (closed-form log-likelihoods, vectorised with NumPy)."""

"""Tests of lambdas/, one package per capability as there."""

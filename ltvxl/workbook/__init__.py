"""Workbooks without Excel: the headless refresh, the template and the report.

- :mod:`ltvxl.workbook.xlsx`: the .xlsx package at zip/XML level.
- :mod:`ltvxl.workbook.refresh`: recompute the formulas of a workbook.
- :mod:`ltvxl.workbook.template`: build ``templates/ltv_template.xlsx``.
- :mod:`ltvxl.workbook.fill`: put transactions into a copy of a template.
"""

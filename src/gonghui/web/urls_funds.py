"""The fund side: funds, budgets down the tree, fund views and payment batches."""

from django.urls import URLPattern, path

from .views import funds, funds_batches

urlpatterns: list[URLPattern] = [
    path("funds/", funds.fund_list, name="fund-list"),
    path("funds/new/", funds.fund_new, name="fund-new"),
    path("funds/<int:pk>/edit/", funds.fund_edit, name="fund-edit"),
    path("funds/<int:pk>/budgets/", funds.fund_budgets, name="fund-budgets"),
    path("funds/<int:pk>/budgets/open/", funds.budget_open, name="budget-open"),
    path("funds/<int:pk>/report/", funds.fund_report, name="fund-report"),
    path("funds/<int:pk>/report/xlsx/", funds.fund_report_xlsx, name="fund-report-xlsx"),
    path("funds/<int:pk>/entries/", funds.fund_entries, name="fund-entries"),
    path("budgets/<int:pk>/", funds.budget_detail, name="budget-detail"),
    path("budgets/<int:pk>/receive/", funds.budget_receive, name="budget-receive"),
    path("budgets/<int:pk>/allocate/", funds.budget_allocate, name="budget-allocate"),
    path("budgets/<int:pk>/return/", funds.budget_return, name="budget-return"),
]

urlpatterns += [
    path("batches/", funds_batches.batch_list, name="batch-list"),
    path("batches/new/", funds_batches.batch_new, name="batch-new"),
    path("batches/<int:pk>/", funds_batches.batch_detail, name="batch-detail"),
    path("batches/<int:pk>/export/", funds_batches.batch_export, name="batch-export"),
    path("batches/<int:pk>/import/", funds_batches.batch_import, name="batch-import"),
    path("payments/<int:pk>/reverse/", funds_batches.payment_reverse, name="payment-reverse"),
    path("payments/failed/", funds_batches.failed_list, name="failed-list"),
    path("payments/failed/<int:pk>/card/", funds_batches.failed_card, name="failed-card"),
    path("payments/failed/<int:pk>/cancel/", funds_batches.failed_cancel, name="failed-cancel"),
]

from django.urls import path

from admission import views

urlpatterns = [
    path("k8s/admission", views.AdmissionView.as_view(), name="k8s-admission"),
]
